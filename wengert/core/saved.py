"""Plain ndarrays a tape will read again are made read-only while the tape lives.

The backward pass reads the constants a primitive was applied to (``W`` in ``x @ W``)
and the values given to the function. NumPy arrays have no version counter, so if the
program later wrote into such an array, the gradient would silently use the new
contents. Instead, the tape clears the array's WRITEABLE flag (and its bases'): the
write fails at once, and ``explain_numpy_error`` turns NumPy's terse message into one
that names the cause and the fix. The flags are restored when the tape is released.

Several tapes may hold one array (nested derivatives, a ``vjp`` kept for later), so
holds are counted; an array is writeable again when the last tape holding it lets go.
A view is restored only after its base (NumPy forbids a writeable view of a read-only
base), so restoring may wait for another tape's release.
"""
import threading

import numpy as _np

from ..errors import SavedArrayWriteError, TracedConversionError, WengertError, last_refused_conversion

_ndarray = _np.ndarray
_mutex = threading.RLock()   # re-entrant: a tape freed by the garbage collector inside a hold
_holds = {}          # id(array) -> [array, number of tapes holding it]
_waiting = set()     # ids of views held by no tape whose base is still held


class Tape(list):
    """A tape's records, and the arrays the tape holds read-only (``held``: id -> array)."""

    __slots__ = ("held",)
    holding = True

    def __init__(self):
        self.held = {}

    def hold(self, a):
        """Make ndarray ``a`` (and the arrays it is a view of) read-only for the tape's life."""
        held = self.held
        key = id(a)
        if key in held:
            return
        root = a
        while root.base.__class__ is _ndarray or isinstance(root.base, _ndarray):
            root = root.base
        if root.base is not None:
            return      # memory from a capsule or buffer: NumPy could not make it writeable again
        with _mutex:
            while True:
                entry = _holds.get(key)
                if entry is not None:
                    entry[1] += 1
                    held[key] = a
                elif a.flags.writeable:
                    a.setflags(write=False)
                    _holds[key] = [a, 1]
                    held[key] = a
                # else read-only already (not by us); its base may not be
                a = a.base
                if a is None or not isinstance(a, _ndarray):
                    return
                key = id(a)
                if key in held:
                    return

    def release(self):
        """Let go of every array this tape holds (idempotent)."""
        held, self.held = self.held, {}
        if held:
            _release(held)

    def __del__(self):
        if self.held:
            self.release()


class UnheldTape(Tape):
    """The records of a tape reversed before any more user code runs (a turn of
    ``checkpoint_loop``): there is nothing to protect, so nothing is held."""

    __slots__ = ()
    holding = False

    def hold(self, a):
        return None


def _release(held, _mutex=_mutex, _holds=_holds, _waiting=_waiting):
    # (module globals bound as defaults: a tape may be freed at interpreter exit)
    with _mutex:
        free = []
        for key in held:
            entry = _holds[key]
            entry[1] -= 1
            if not entry[1]:
                free.append(key)
        if free:
            # held in hold order, a view before its bases: restore bases first
            if _restore(reversed(free), _holds, _waiting) and _waiting:
                while _restore(list(_waiting), _holds, _waiting):
                    pass


def _restore(keys, _holds, _waiting):
    """Make the arrays ``keys`` (held by no tape) writeable again; a view whose base some
    other tape still holds waits in ``_waiting``. Returns whether any was restored."""
    restored = False
    for key in keys:
        entry = _holds.get(key)
        if entry is None or entry[1]:      # gone, or held again since it started waiting
            _waiting.discard(key)
            continue
        try:
            entry[0].setflags(write=True)
        except ValueError:
            _waiting.add(key)
            continue
        del _holds[key]
        _waiting.discard(key)
        restored = True
    return restored


def hold_constants(tape, prim, vals, kwargs, argnums):
    """Hold the ndarray arguments of a recorded primitive that are not traced (constants)."""
    if not prim.reads_constants:
        return
    for i, v in enumerate(vals):
        if v.__class__ is _ndarray and id(v) not in tape.held and i not in argnums:
            tape.hold(v)
    if kwargs:
        for v in kwargs.values():
            if v.__class__ is _ndarray:
                tape.hold(v)


def held_count():
    """The number of arrays currently held read-only by some tape (for tests)."""
    return len(_holds)


_READ_ONLY = "read-only"          # "assignment destination is read-only", "output array is read-only"
_SEQUENCE = "setting an array element with a sequence"


def raise_explained(error):
    """Raise the wengert error that a NumPy ValueError from traced code stands for, if any."""
    if isinstance(error, ValueError):
        explained = explain_numpy_error(error)
        if explained is not None:
            raise explained from error


def explain_numpy_error(error):
    """The wengert error that NumPy's ValueError ``error``, raised inside a traced
    function, stands for; None when it is NumPy's own. NumPy reports a traced scalar
    stored into an ndarray element as "a sequence" (after our ``float()`` refused it),
    and a write into an array a tape holds as a write into a read-only array."""
    if isinstance(error, WengertError):
        return None                 # explained already (``rerun_write_error``)
    message = str(error)
    if message.startswith(_SEQUENCE):
        if last_refused_conversion() is not None:
            return TracedConversionError("Storing into an element of a plain ndarray (out[i] = x)")
    elif _READ_ONLY in message:
        return SavedArrayWriteError()
    return None


# -- values user code is run on again -------------------------------------------------------
#
# checkpoint, checkpoint_loop and fixed_point call user functions on raw arrays that they
# use again later (a checkpointed call's inputs when it is recomputed, the stored carries a
# loop re-runs from, the parameters of every iteration). A function written for traced
# values may update its argument in place (``x *= 2`` rebinds a traced x to a new value),
# which on a raw array would change what the next run starts from. So such functions get
# read-only views: the write fails, and ``rerun_write_error`` says why.

def read_only(leaves):
    """``leaves`` with each writeable ndarray replaced by a read-only view of it (no copy;
    the original's own flags are left alone)."""
    out = list(leaves)
    for k, x in enumerate(out):
        if x.__class__ is _ndarray and x.flags.writeable:
            v = x.view()
            v.flags.writeable = False
            out[k] = v
    return out


def writeable_again(outputs, views, originals):
    """``outputs`` with the views ``read_only`` made (returned unchanged by the function)
    replaced by the arrays they view: a value passed through is returned as it came, and
    a view the function made of one (``x[1:]``, ``x.T``) is as writeable as the same view
    of the original would be."""
    swap = {id(v): x for v, x in zip(views, originals) if v is not x}
    if not swap:
        return outputs
    out = [swap.get(id(y), y) for y in outputs]
    bases = {id(x) for x in swap.values() if x.flags.writeable}
    for y in out:
        if y.__class__ is _ndarray and id(y.base) in bases and not y.flags.writeable:
            y.flags.writeable = True        # (NumPy records the owner of the memory as a view's base)
    return out


def is_write_refused(error):
    """Whether ``error`` is NumPy refusing a write into a read-only array (or our
    explanation of it), and not explained by ``rerun_write_error`` yet."""
    if isinstance(error, SavedArrayWriteError):
        return not getattr(error, "rerun", False)
    return isinstance(error, ValueError) and _READ_ONLY in str(error)


def rerun_write_error(op, fun_name):
    """The error for a write ``is_write_refused`` saw in ``fun_name``, run by ``op``."""
    error = SavedArrayWriteError(
        f"{op}: {fun_name} wrote in place (x *= 2, x[i] = v, ...) into an array that must keep its "
        f"value: {op} runs it again later from the same values, so it passes them read-only (and "
        f"arrays a derivative still needs are read-only too); an in-place write would silently "
        f"corrupt the gradient. Write into a copy instead (x = x * 2, or x = x.copy() before "
        f"updating it). (If the array was read-only before, this is NumPy's own refusal.)")
    error.rerun = True
    return error


class ExplainWrites:
    """Context: a write refused inside turns into ``rerun_write_error(op, fun_name)``."""

    __slots__ = ("op", "fun_name")

    def __init__(self, op, fun_name):
        self.op, self.fun_name = op, fun_name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is not None and is_write_refused(error):
            raise rerun_write_error(self.op, self.fun_name) from error
        return False
