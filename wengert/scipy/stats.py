"""``wengert.scipy.stats``: SciPy's stats namespace, wrapped (see wengert/numpy/_wrap.py).

Differentiable distributions: ``norm``, ``t``, ``gamma``, ``beta``, ``chi2``,
``poisson``, ``multivariate_normal`` and ``dirichlet``. Each is an object with SciPy's
method names and signatures (``norm.logpdf(x, loc=0, scale=1)``, ``t.cdf(x, df, loc,
scale)``, ``poisson.logpmf(k, mu, loc=0)``, ...), computed by differentiable
compositions of ``wengert.scipy.special`` and ``wengert.numpy`` functions that follow
SciPy's own formulas, so values agree with SciPy. Calling the object freezes it
(``norm(loc, scale).logpdf(x)``), as in SciPy.

- Continuous distributions: ``pdf``, ``logpdf``, ``cdf``, ``logcdf``, ``sf``, ``logsf``,
  ``ppf``, ``isf``, differentiable in ``x`` (``q``), ``loc``, ``scale`` and the shape
  parameters. Exceptions, where SciPy's special function has no derivative in that
  argument: the cdf family and ``ppf``/``isf`` of ``gamma`` and ``chi2`` (in ``a``/``df``),
  ``beta`` (in ``a``, ``b``) and ``t`` (in ``df``) raise ``MissingRuleError`` when those
  parameters are traced. Outside the support and for invalid parameters the values
  are SciPy's (``-inf``, ``0``, ``1``, ``nan``) with a zero derivative: the formulas only
  see valid inputs there, so no NaN leaks into the derivatives of the other entries.
- ``poisson``: ``pmf``, ``logpmf``, ``cdf``, ``logcdf``, ``sf``, ``logsf``, differentiable in
  ``mu``; ``k`` and ``loc`` are integers, read as constants (``ppf``/``isf`` likewise).
- ``multivariate_normal``: ``logpdf``/``pdf`` differentiable in ``x``, ``mean`` and ``cov``
  (a matrix, a vector of variances or a scalar variance), from the Cholesky factor
  ``L`` of ``cov``: ``-(d log(2 pi) + 2 sum(log diag L) + |L^-1 (x - mean)|^2) / 2``
  (``L`` reads the lower triangle of ``cov``, as SciPy's ``eigh`` does). ``L`` and the
  triangular solve are ``wengert.numpy.linalg.cholesky`` and
  ``wengert.scipy.linalg.solve_triangular`` when those are differentiable, else
  compositions of differentiable functions (column-wise Cholesky, forward
  substitution).
  The covariance must be positive definite when traced (a singular one with
  ``allow_singular=True`` is left to SciPy for plain values and raises
  ``MissingRuleError`` when traced). ``cdf``/``logcdf`` (numerical integration) have no
  derivative.
- ``dirichlet``: ``logpdf``/``pdf`` differentiable in ``x`` and ``alpha``; ``x`` may hold
  ``K - 1`` components (the last is ``1 - sum``, as in SciPy).
- ``rvs`` (and the methods not listed) pass through to SciPy: sampling reads traced
  parameters as constants; other methods raise ``MissingRuleError`` when traced.
"""
import math

import numpy as _np
import scipy.stats as _src

from .. import numpy as _wnp  # noqa: F401  (the traced array type and NumPy rules)
from ..core.tracer import getval
from ..errors import MissingRuleError
from ..numpy._box import handled as _handled
from ..numpy._wrap import contains_box, guarded, strip_boxes, wrap_namespace
from . import special as _sp

_LOG_2PI = math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG2 = math.log(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2 * math.pi)


def _as_array(x):
    """A list or tuple (possibly of traced values) as an array; anything else as is."""
    if isinstance(x, (list, tuple)):
        return _wnp.array(x) if contains_box(x) else _np.asarray(x, dtype=float)
    return x


def _raw(x):
    return _np.asarray(getval(x), dtype=float)


def _finish(out):
    """SciPy returns a scalar for a 0-d result."""
    if isinstance(out, _np.ndarray) and out.ndim == 0:
        return out[()]
    if isinstance(out, float):
        return _np.float64(out)
    return out


def _errstate():
    return _np.errstate(divide="ignore", invalid="ignore", over="ignore")


class _Frozen:
    """``dist(*args, **kwds)``: the distribution with its parameters bound."""

    def __init__(self, dist, args, kwds):
        self.dist, self.args, self.kwds = dist, args, kwds

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self.dist, name)
        if not callable(method):
            return method
        return lambda *a, **k: method(*a, *self.args, **{**self.kwds, **k})

    def rvs(self, size=None, random_state=None):
        return self.dist.rvs(*self.args, size=size, random_state=random_state, **self.kwds)

    def __repr__(self):
        return f"<wengert frozen {self.dist.name}>"


class _Distribution:
    """Shared parts: freezing, sampling, and SciPy's other methods (guarded)."""

    def __init__(self, name):
        self.name = name
        self._scipy = getattr(_src, name)

    def __call__(self, *args, **kwds):
        return _Frozen(self, args, kwds)

    def rvs(self, *args, **kwds):
        """Samples from SciPy; traced parameters are read as constants."""
        return self._scipy.rvs(*strip_boxes(args), **strip_boxes(kwds))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        obj = getattr(self._scipy, name)
        if callable(obj):
            return guarded(obj, f"scipy.stats.{self.name}.{name}")
        return obj

    def __repr__(self):
        return f"<wengert distribution {self.name}>"


# -- univariate distributions --------------------------------------------------------------

class _Univariate(_Distribution):
    """A location-scale family ``f((x - loc) / scale, *shapes) / scale`` (continuous) or a
    shifted discrete one, evaluated like SciPy's ``rv_continuous``/``rv_discrete``:
    the standard functions are called only where the arguments are valid and inside
    the support, and SciPy's constants are placed elsewhere."""
    _shapes = ()
    _safe_shapes = ()          # valid shape parameters, used where the real ones are not
    _safe_z = 0.0              # a point inside the open support
    _lower, _upper = -_np.inf, _np.inf
    _discrete = False

    def _argcheck(self, *shapes):
        cond = _np.asarray(True)
        for s in shapes:
            cond = cond & (s > 0)
        return cond

    def _bind(self, args, kwds):
        names = self._shapes + (("loc",) if self._discrete else ("loc", "scale"))
        if len(args) > len(names):
            raise TypeError(f"{self.name}: too many positional arguments ({len(args)} parameters given, "
                            f"at most {len(names)}: {', '.join(names)})")
        vals = dict(zip(names, args))
        for k, v in kwds.items():
            if k not in names:
                raise TypeError(f"{self.name}: unexpected keyword argument {k!r}")
            if k in vals:
                raise TypeError(f"{self.name}: got multiple values for argument {k!r}")
            vals[k] = v
        missing = [n for n in self._shapes if n not in vals]
        if missing:
            raise TypeError(f"{self.name}: missing required argument(s) {', '.join(map(repr, missing))}")
        shapes = [_as_array(vals[n]) for n in self._shapes]
        return shapes, _as_array(vals.get("loc", 0.0)), _as_array(vals.get("scale", 1.0))

    # -- evaluation on the valid entries ----------------------------------------------
    def _evaluate(self, cond, body, x, loc, scale, shapes, fill, quantile=False):
        """``body(z, shapes, scale)`` where ``cond``, ``fill`` elsewhere. ``z`` is the
        standardized ``x`` (or, for ``quantile``, ``x`` itself: a probability). Where
        ``cond`` is False the body sees valid stand-ins, so its derivatives stay finite."""
        if cond.all():
            z = x if quantile else (x - loc) / scale
            return body(z, shapes, scale)
        if not cond.any():
            return fill
        where = _wnp.where
        sc = where(cond, scale, 1.0)
        safe_x = 0.5 if quantile else 0.0
        xs = where(cond, x, safe_x)
        if quantile:
            z = xs
        else:
            z = where(cond, (xs - where(cond, loc, 0.0)) / sc, self._safe_z)
        sh = [where(cond, s, safe) for s, safe in zip(shapes, self._safe_shapes)]
        return where(cond, body(z, sh, sc), fill)

    def _prepare(self, x, args, kwds):
        shapes, loc, scale = self._bind(args, kwds)
        x = _as_array(x)
        xv, lv, sv = _raw(x), _raw(loc), _raw(scale)
        shv = [_raw(s) for s in shapes]
        with _errstate():
            zv = (xv - lv) / sv
            cond0 = self._argcheck(*shv) & (sv > 0)
        shape = _np.broadcast_shapes(zv.shape, cond0.shape, *[s.shape for s in shv])
        cond0 = _np.broadcast_to(cond0, shape)
        zv = _np.broadcast_to(zv, shape)
        bad = ~cond0 | _np.isnan(zv)
        return x, shapes, loc, scale, zv, cond0, bad

    def _density(self, x, args, kwds, log):
        x, shapes, loc, scale, zv, cond0, bad = self._prepare(x, args, kwds)
        with _errstate():
            cond = cond0 & (self._lower <= zv) & (zv <= self._upper)
        fill = _np.where(bad, _np.nan, -_np.inf if log else 0.0)
        if log:
            def body(z, sh, sc):
                return self._logpdf(z, *sh) - _wnp.log(sc)
        else:
            def body(z, sh, sc):
                return self._pdf(z, *sh) / sc
        return _finish(self._evaluate(cond, body, x, loc, scale, shapes, fill))

    def _tail(self, x, args, kwds, kind):
        """cdf, logcdf, sf, logsf: ``kind`` is the name of the standard function."""
        x, shapes, loc, scale, zv, cond0, bad = self._prepare(x, args, kwds)
        log = kind.startswith("log")
        with _errstate():
            cond = cond0 & (self._lower < zv) & (zv < self._upper)
            full = cond0 & ((zv >= self._upper) if kind.endswith("cdf") else (zv <= self._lower))
        fill = _np.where(full, 0.0 if log else 1.0, -_np.inf if log else 0.0)
        fill = _np.where(bad, _np.nan, fill)
        std = getattr(self, "_" + kind)
        return _finish(self._evaluate(cond, lambda z, sh, sc: std(z, *sh), x, loc, scale, shapes, fill))

    def _quantile(self, q, args, kwds, kind):
        """ppf (``kind == "ppf"``) or isf: ``loc + scale * standard(q)``; the support's
        ends at q == 0 and q == 1."""
        shapes, loc, scale = self._bind(args, kwds)
        q = _as_array(q)
        qv, lv, sv = _raw(q), _raw(loc), _raw(scale)
        shv = [_raw(s) for s in shapes]
        with _errstate():
            cond0 = self._argcheck(*shv) & (sv > 0) & (lv == lv)
            shape = _np.broadcast_shapes(qv.shape, cond0.shape, *[s.shape for s in shv])
            cond0 = _np.broadcast_to(cond0, shape)
            cond = cond0 & (0 < qv) & (qv < 1)
            at_lower = cond0 & (qv == (0 if kind == "ppf" else 1))
            at_upper = cond0 & (qv == (1 if kind == "ppf" else 0))
        std = getattr(self, "_" + kind)

        def body(z, sh, sc):
            return std(z, *sh) * sc + loc_s
        where = _wnp.where
        loc_s = loc if cond.all() else where(cond, loc, 0.0)
        out = self._evaluate(cond, body, q, loc, scale, shapes, _np.full(shape, _np.nan), quantile=True)
        for mask, end in ((at_lower, self._lower), (at_upper, self._upper)):
            if mask.any():
                value = end * scale + loc if _np.isfinite(end) else end
                out = where(mask, value, out)
        return _finish(out)


class _Continuous(_Univariate):
    """SciPy's ``rv_continuous`` methods; subclasses give ``_logpdf``, ``_cdf``, ``_sf``,
    ``_ppf``, ``_isf`` (and optionally ``_pdf``, ``_logcdf``, ``_logsf``)."""

    def logpdf(self, x, *args, **kwds):
        return self._density(x, args, kwds, log=True)

    def pdf(self, x, *args, **kwds):
        return self._density(x, args, kwds, log=False)

    def cdf(self, x, *args, **kwds):
        return self._tail(x, args, kwds, "cdf")

    def logcdf(self, x, *args, **kwds):
        return self._tail(x, args, kwds, "logcdf")

    def sf(self, x, *args, **kwds):
        return self._tail(x, args, kwds, "sf")

    def logsf(self, x, *args, **kwds):
        return self._tail(x, args, kwds, "logsf")

    def ppf(self, q, *args, **kwds):
        return self._quantile(q, args, kwds, "ppf")

    def isf(self, q, *args, **kwds):
        return self._quantile(q, args, kwds, "isf")

    # -- standard functions: SciPy's defaults -------------------------------------------
    def _pdf(self, z, *shapes):
        return _wnp.exp(self._logpdf(z, *shapes))

    def _logcdf(self, z, *shapes):
        with _np.errstate(divide="ignore"):
            return _wnp.log(self._cdf(z, *shapes))

    def _logsf(self, z, *shapes):
        with _np.errstate(divide="ignore"):
            return _wnp.log(self._sf(z, *shapes))


class _Norm(_Continuous):
    def _logpdf(self, z):
        return -(z * z) / 2.0 - 0.5 * _LOG_2PI

    def _pdf(self, z):
        return _wnp.exp(-(z * z) / 2.0) * _INV_SQRT2PI

    def _cdf(self, z):
        return _sp.ndtr(z)

    def _logcdf(self, z):
        return _sp.log_ndtr(z)

    def _sf(self, z):
        return _sp.ndtr(-z)

    def _logsf(self, z):
        return _sp.log_ndtr(-z)

    def _ppf(self, q):
        return _sp.ndtri(q)

    def _isf(self, q):
        return -_sp.ndtri(q)


class _T(_Continuous):
    _shapes, _safe_shapes = ("df",), (1.0,)

    def _logpdf(self, z, df):
        dfv = _np.asarray(getval(df))
        inf = _np.isinf(dfv)
        if inf.any():       # SciPy: the normal distribution at df == inf
            dfs = _wnp.where(inf, 1.0, df)
            return _wnp.where(inf, -(z * z) / 2.0 - 0.5 * _LOG_2PI, self._logpdf(z, dfs))
        return (_wnp.log(_sp.poch(0.5 * df, 0.5)) - 0.5 * (_wnp.log(df) + _LOG_PI)
                - (df + 1) / 2 * _wnp.log1p(z * z / df))

    def _cdf(self, z, df):
        return _sp.stdtr(df, z)

    def _sf(self, z, df):
        return _sp.stdtr(df, -z)

    def _ppf(self, q, df):
        return _sp.stdtrit(df, q)

    def _isf(self, q, df):
        return -_sp.stdtrit(df, q)


class _Gamma(_Continuous):
    _shapes, _safe_shapes, _safe_z, _lower = ("a",), (1.0,), 1.0, 0.0

    def _logpdf(self, z, a):
        return _sp.xlogy(a - 1.0, z) - z - _sp.gammaln(a)

    def _cdf(self, z, a):
        return _sp.gammainc(a, z)

    def _sf(self, z, a):
        return _sp.gammaincc(a, z)

    def _ppf(self, q, a):
        return _sp.gammaincinv(a, q)

    def _isf(self, q, a):
        return _sp.gammainccinv(a, q)


class _Chi2(_Continuous):
    _shapes, _safe_shapes, _safe_z, _lower = ("df",), (1.0,), 1.0, 0.0

    def _logpdf(self, z, df):
        return _sp.xlogy(df / 2.0 - 1, z) - z / 2.0 - _sp.gammaln(df / 2.0) - (_LOG2 * df) / 2.0

    def _cdf(self, z, df):
        return _sp.gammainc(df / 2, z / 2)        # SciPy's chdtr

    def _sf(self, z, df):
        return _sp.gammaincc(df / 2, z / 2)       # chdtrc

    def _ppf(self, q, df):
        return 2 * _sp.gammaincinv(df / 2, q)

    def _isf(self, q, df):
        return 2 * _sp.gammainccinv(df / 2, q)    # chdtri


class _Beta(_Continuous):
    _shapes, _safe_shapes, _safe_z, _lower, _upper = ("a", "b"), (1.0, 1.0), 0.5, 0.0, 1.0

    def _logpdf(self, z, a, b):
        return _sp.xlog1py(b - 1.0, -z) + _sp.xlogy(a - 1.0, z) - _sp.betaln(a, b)

    def _cdf(self, z, a, b):
        return _sp.betainc(a, b, z)

    def _sf(self, z, a, b):
        return _sp.betaincc(a, b, z)

    def _ppf(self, q, a, b):
        return _sp.betaincinv(a, b, q)

    def _isf(self, q, a, b):
        return _sp.betainccinv(a, b, q)


class _Poisson(_Univariate):
    """``poisson``: differentiable in ``mu``; ``k`` and ``loc`` are integers (constants)."""
    _shapes, _safe_shapes, _lower, _discrete = ("mu",), (1.0,), 0.0, True

    def _argcheck(self, mu):
        return mu >= 0

    def _prepare_k(self, k, args, kwds):
        (mu,), loc, _ = self._bind(args, kwds)
        kv = _np.asarray(getval(k), dtype=float) - _np.asarray(getval(loc), dtype=float)
        muv = _raw(mu)
        cond0 = self._argcheck(muv)
        shape = _np.broadcast_shapes(kv.shape, muv.shape)
        cond0, kv = _np.broadcast_to(cond0, shape), _np.broadcast_to(kv, shape)
        return kv, mu, cond0, ~cond0 | _np.isnan(kv)

    def _on(self, cond, body, kv, mu, fill):
        if cond.all():
            return _finish(body(kv, mu))
        if not cond.any():
            return _finish(fill)
        ks = _np.where(cond, kv, 0.0)
        mus = _wnp.where(cond, mu, 1.0)
        return _finish(_wnp.where(cond, body(ks, mus), fill))

    def _pmf_like(self, k, args, kwds, log):
        kv, mu, cond0, bad = self._prepare_k(k, args, kwds)
        with _errstate():
            cond = cond0 & (kv >= 0) & (_np.floor(kv) == kv)
        fill = _np.where(bad, _np.nan, -_np.inf if log else 0.0)

        def body(k, mu):
            lp = _sp.xlogy(k, mu) - _sp.gammaln(k + 1) - mu
            return lp if log else _wnp.exp(lp)
        return self._on(cond, body, kv, mu, fill)

    def logpmf(self, k, *args, **kwds):
        return self._pmf_like(k, args, kwds, log=True)

    def pmf(self, k, *args, **kwds):
        return self._pmf_like(k, args, kwds, log=False)

    def _tail(self, k, args, kwds, kind):
        kv, mu, cond0, bad = self._prepare_k(k, args, kwds)
        log = kind.startswith("log")
        with _errstate():
            cond = cond0 & (kv >= 0) & _np.isfinite(kv)
            full = (kv >= _np.inf) if kind.endswith("cdf") else (kv < 0) & cond0
        # SciPy's order of placement: logcdf puts 0 at k == inf after the NaNs of
        # invalid parameters, cdf puts its 1 before them
        fill = _np.full(cond.shape, -_np.inf if log else 0.0)
        if kind == "logcdf":
            fill = _np.where(full, 0.0, _np.where(bad, _np.nan, fill))
        else:
            fill = _np.where(bad, _np.nan, _np.where(full, 0.0 if log else 1.0, fill))

        def body(k, mu):
            k = _np.floor(k)
            # pdtr(k, mu) = gammaincc(k + 1, mu), pdtrc(k, mu) = gammainc(k + 1, mu)
            p = _sp.gammaincc(k + 1, mu) if kind.endswith("cdf") else _sp.gammainc(k + 1, mu)
            if log:
                with _np.errstate(divide="ignore"):
                    return _wnp.log(p)
            return p
        return self._on(cond, body, kv, mu, fill)

    def ppf(self, q, *args, **kwds):
        return self._scipy.ppf(*strip_boxes((q,) + args), **strip_boxes(kwds))

    def isf(self, q, *args, **kwds):
        return self._scipy.isf(*strip_boxes((q,) + args), **strip_boxes(kwds))

    def cdf(self, k, *args, **kwds):
        return self._tail(k, args, kwds, "cdf")

    def logcdf(self, k, *args, **kwds):
        return self._tail(k, args, kwds, "logcdf")

    def sf(self, k, *args, **kwds):
        return self._tail(k, args, kwds, "sf")

    def logsf(self, k, *args, **kwds):
        return self._tail(k, args, kwds, "logsf")


# -- multivariate distributions ------------------------------------------------------------

def _cholesky(a):
    """The lower Cholesky factor of a symmetric positive definite matrix: NumPy's when
    ``wengert.numpy.linalg.cholesky`` is differentiable, else composed column by column."""
    if "cholesky" in _wnp.linalg.DIFFERENTIABLE:
        return _wnp.linalg.cholesky(a)
    return _cholesky_composed(a)


def _cholesky_composed(a):
    """Cholesky by columns (left-looking), with differentiable functions only:
    ``L[j:, j] = v / sqrt(v[0])``, ``v = A[j:, j] - L[j:, :j] @ L[j, :j]``."""
    n = _np.shape(getval(a))[0]
    cols = []
    for j in range(n):
        v = a[j:, j]
        if j:
            prev = _wnp.stack(cols, axis=1)                 # (n, j)
            v = v - prev[j:] @ prev[j]
        col = v / _wnp.sqrt(v[0])
        if j:
            col = _wnp.concatenate([_np.zeros(j, dtype=_np.result_type(getval(col))), col])
        cols.append(col)
    return _wnp.stack(cols, axis=1)


def _solve_triangular(low, b):
    """``L^-1 b`` for lower-triangular ``L``: SciPy's ``solve_triangular`` when
    ``wengert.scipy.linalg`` differentiates it, else forward substitution."""
    from . import linalg as _linalg
    if "solve_triangular" in _linalg.DIFFERENTIABLE:
        return _linalg.solve_triangular(low, b, lower=True)
    return _solve_lower(low, b)


def _solve_lower(l, b):
    """``L^-1 b`` for lower-triangular ``L`` (n, n) and ``b`` (n, m), by forward
    substitution with differentiable functions."""
    n = _np.shape(getval(l))[0]
    rows = []
    for i in range(n):
        r = b[i]
        if i:
            r = r - l[i, :i] @ _wnp.stack(rows)
        rows.append(r / l[i, i])
    return _wnp.stack(rows)


def _logdet_maha(dev, cov, d):
    """``(log det cov, (x - mean)^T cov^-1 (x - mean))`` for deviations ``dev`` (..., d)
    and a covariance given as SciPy accepts it: scalar, vector of variances, or matrix."""
    nd = len(_np.shape(getval(cov)))
    if nd == 0:
        return d * _wnp.log(cov), _wnp.sum(dev * dev, axis=-1) / cov
    if nd == 1:
        cov = _wnp.reshape(cov, (d,)) if _np.size(getval(cov)) == d else _wnp.broadcast_to(cov, (d,))
        return _wnp.sum(_wnp.log(cov)), _wnp.sum(dev * dev / cov, axis=-1)
    cov = _wnp.reshape(cov, (d, d))
    low = _cholesky(cov)
    flat = _wnp.reshape(dev, (-1, d))
    white = _solve_triangular(low, _wnp.transpose(flat))     # (d, m)
    maha = _wnp.reshape(_wnp.sum(white * white, axis=0), _np.shape(getval(dev))[:-1])
    return 2 * _wnp.sum(_wnp.log(_wnp.diagonal(low))), maha


def _squeeze(out):
    out = _wnp.squeeze(out)
    return _finish(out)


class _MultivariateNormal(_Distribution):
    def _logpdf(self, x, mean=None, cov=1, allow_singular=False):
        x, cov = _as_array(x), _as_array(cov)
        mean = None if mean is None else _as_array(mean)
        # SciPy's validation and dimension rules, on the values
        dim, mean_v, cov_v = self._scipy._process_parameters_psd(
            None, None if mean is None else _raw(mean), _raw(cov))
        with _errstate():
            ok = _np.all(_np.isfinite(cov_v)) and _np.all(_np.linalg.eigvalsh(cov_v) > 0)
        if not ok:
            if not contains_box((x, mean, cov)):
                return None                     # SciPy's own evaluation (or its error)
            self._scipy.logpdf(_raw(x), mean_v, cov_v, allow_singular)  # SciPy's error, if any
            raise MissingRuleError(
                "scipy.stats.multivariate_normal.logpdf",
                hint="The covariance is singular: derivatives need a positive definite covariance.")
        xs = _wnp.reshape(x, self._scipy._process_quantiles(_raw(x), dim).shape)
        dev = xs if mean is None else xs - _wnp.reshape(mean, (dim,))
        logdet, maha = _logdet_maha(dev, cov, dim)
        return -0.5 * (dim * _LOG_2PI + logdet + maha)

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        out = self._logpdf(x, mean, cov, allow_singular)
        if out is None:
            return self._scipy.logpdf(x, mean, cov, allow_singular)
        return _squeeze(out)

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        out = self._logpdf(x, mean, cov, allow_singular)
        if out is None:
            return self._scipy.pdf(x, mean, cov, allow_singular)
        return _squeeze(_wnp.exp(out))

    def __call__(self, mean=None, cov=1, allow_singular=False, seed=None, **kwds):
        return _FrozenMVN(self, mean, cov, allow_singular, seed)


class _FrozenMVN(_Frozen):
    def __init__(self, dist, mean, cov, allow_singular, seed):
        super().__init__(dist, (), {"mean": mean, "cov": cov, "allow_singular": allow_singular})
        self.seed = seed

    def rvs(self, size=1, random_state=None):
        kw = self.kwds
        return self.dist.rvs(kw["mean"], kw["cov"], size=size,
                             random_state=self.seed if random_state is None else random_state)

    def __getattr__(self, name):
        method = super().__getattr__(name)
        if name in ("logpdf", "pdf", "cdf", "logcdf"):
            return method
        # entropy and the like take (mean, cov) only
        return lambda *a, **k: getattr(self.dist, name)(*a, mean=self.kwds["mean"], cov=self.kwds["cov"], **k)


class _Dirichlet(_Distribution):
    def _logpdf(self, x, alpha):
        from scipy.stats._multivariate import _dirichlet_check_input, _dirichlet_check_parameters
        x, alpha = _as_array(x), _as_array(alpha)
        alpha_v = _dirichlet_check_parameters(_raw(alpha))
        _dirichlet_check_input(alpha_v, _raw(x))            # SciPy's validation errors
        k = alpha_v.shape[0]
        if _np.shape(getval(x))[0] != k:                  # K - 1 components: the last is 1 - sum
            last = 1 - _wnp.sum(x, axis=0)
            x = _wnp.concatenate([x, _wnp.reshape(last, (1,) + _np.shape(getval(last)))])
        # SciPy: -lnB(alpha) + sum(xlogy(alpha - 1, x.T).T, 0)
        lnb = _wnp.sum(_sp.gammaln(alpha)) - _sp.gammaln(_wnp.sum(alpha))
        terms = _sp.xlogy(alpha - 1, _wnp.transpose(x))
        return -lnb + _wnp.sum(_wnp.transpose(terms), axis=0)

    def logpdf(self, x, alpha):
        return _squeeze(self._logpdf(x, alpha))

    def pdf(self, x, alpha):
        return _squeeze(_wnp.exp(self._logpdf(x, alpha)))

    def __call__(self, alpha, seed=None):
        frozen = _Frozen(self, (), {"alpha": alpha})
        frozen.seed = seed
        return frozen


norm = _Norm("norm")
t = _T("t")
gamma = _Gamma("gamma")
chi2 = _Chi2("chi2")
beta = _Beta("beta")
poisson = _Poisson("poisson")
multivariate_normal = _MultivariateNormal("multivariate_normal")
dirichlet = _Dirichlet("dirichlet")

_defined = {"norm": norm, "t": t, "gamma": gamma, "chi2": chi2, "beta": beta, "poisson": poisson,
            "multivariate_normal": multivariate_normal, "dirichlet": dirichlet}
DIFFERENTIABLE = sorted(_defined)

globals().update(wrap_namespace(_src, _defined, "scipy.stats.", _handled))
