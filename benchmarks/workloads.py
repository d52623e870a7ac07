"""The workloads of the benchmark suite (``suite.py``).

Each workload is written once, as a user would write it, as a function
``fn(xp, params, data)`` whose only library-specific part is ``xp``: a small table of the
library's own functions (``xp.sin`` is ``numpy.sin``, ``wengert.numpy.sin``,
``autograd.numpy.sin``, ``torch.sin`` or ``jax.numpy.sin``; ``xp.max`` is ``torch.amax``
for torch; ``xp.const`` strips the derivative: ``stop_gradient``, ``getval``,
``Tensor.detach``, ``lax.stop_gradient``). Operators (``@``, ``*``, ``+``, indexing) are the
libraries' own. Every library differentiates the same source, with its usual API:

- wengert / autograd: ``value_and_grad(f)(params, data)``;
- torch eager: leaf tensors with ``requires_grad``, ``torch.autograd.grad(loss, leaves)``;
- torch.func: ``torch.func.grad_and_value(f)(params, data)``;
- JAX: ``jax.value_and_grad(f)`` eager, and ``jax.jit`` of it (compile time on its own rows).

Loops that JAX would unroll into thousands of XLA operations under ``jit`` (the scalar
loops and the recurrent loop) are written for ``jit`` with ``lax.fori_loop`` instead (the
idiomatic JAX form; jitting the 1000-iteration Python loop of the logistic map takes
about 9 s to compile). The other workloads are jitted as they are.

This module imports only NumPy at import time; each library is imported by the worker
that runs it (one process per library, see ``suite.py``).
"""
import math

import numpy as onp

LIBS = ("wengert", "autograd", "torch", "jax")


# -- pytrees (dicts with sorted keys, tuples and lists, leaves) ----------------------------

def tree_leaves(tree):
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in tree_leaves(tree[k])]
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in tree_leaves(t)]
    return [tree]


def tree_map(fn, tree):
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(tree_map(fn, v) for v in tree)
    if isinstance(tree, list):
        return [tree_map(fn, v) for v in tree]
    return fn(tree)


def to_numpy(x):
    """A torch tensor, JAX array, NumPy array or scalar as a float64 NumPy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return onp.array(x, dtype=onp.float64)


def result_of(value, grads):
    """The canonical form of a result, for validation: (value as a float or None, the
    gradient's leaves as float64 arrays, in sorted-key order)."""
    v = None if value is None else float(to_numpy(value))
    return v, [to_numpy(g) for g in tree_leaves(grads)]


# -- the libraries' function tables ----------------------------------------------------------

class Ops:
    """``xp``: the functions the workloads call, taken from one library."""

    def __init__(self, name, **fns):
        self.name = name
        self.__dict__.update(fns)


def numpy_ops():
    return Ops("numpy", sin=onp.sin, cos=onp.cos, tanh=onp.tanh, exp=onp.exp, log=onp.log, sum=onp.sum,
               max=onp.max, squeeze=onp.squeeze, zeros=onp.zeros, const=lambda x: x, asarray=onp.asarray)


def wengert_ops():
    import wengert.numpy as wnp
    from wengert import stop_gradient
    return Ops("wengert", sin=wnp.sin, cos=wnp.cos, tanh=wnp.tanh, exp=wnp.exp, log=wnp.log, sum=wnp.sum,
               max=wnp.max, squeeze=wnp.squeeze, zeros=wnp.zeros, const=stop_gradient, asarray=wnp.asarray)


def autograd_ops():
    import autograd.numpy as anp
    from autograd.tracer import getval
    return Ops("autograd", sin=anp.sin, cos=anp.cos, tanh=anp.tanh, exp=anp.exp, log=anp.log, sum=anp.sum,
               max=anp.max, squeeze=anp.squeeze, zeros=anp.zeros, const=getval, asarray=anp.asarray)


def torch_ops():
    import torch
    return Ops("torch", sin=torch.sin, cos=torch.cos, tanh=torch.tanh, exp=torch.exp, log=torch.log,
               sum=torch.sum, max=torch.amax, squeeze=torch.squeeze, zeros=torch.zeros,
               const=lambda x: x.detach(), asarray=torch.as_tensor)


def jax_ops():
    import jax
    import jax.numpy as jnp
    return Ops("jax", sin=jnp.sin, cos=jnp.cos, tanh=jnp.tanh, exp=jnp.exp, log=jnp.log, sum=jnp.sum,
               max=jnp.max, squeeze=jnp.squeeze, zeros=jnp.zeros, const=jax.lax.stop_gradient,
               asarray=jnp.asarray, fori_loop=jax.lax.fori_loop)


# -- the user code -------------------------------------------------------------------------

def make_logistic(n_iter):
    def logistic(xp, x, data):
        for _ in range(n_iter):
            x = 4.0 * x * (1.0 - x)
        return x
    return logistic


def make_logistic_lax(n_iter):
    def logistic(xp, x, data):
        return xp.fori_loop(0, n_iter, lambda i, x: 4.0 * x * (1.0 - x), x)
    return logistic


def make_product(m):
    """g(x) = prod_i (x - t_i), the seed notes' example, as their loop writes it."""
    def product(xp, x, data):
        t = data["t"]
        f = 1.0
        for i in range(m):
            f = f * (x - t[i])
        return f
    return product


def make_product_lax(m):
    def product(xp, x, data):
        t = data["t"]
        return xp.fori_loop(0, m, lambda i, f: f * (x - t[i]), xp.asarray(1.0, dtype=t.dtype))
    return product


def make_chain(n_ops):
    """``n_ops`` elementwise operations, then a sum: the cycle t = sin(x), t = 0.1 t,
    x = x + t, x = 0.99 x, repeated (the derivative of each cycle stays in [0.89, 1.09],
    so that 200 operations neither vanish nor explode)."""
    def chain(xp, x, data):
        t = None
        for k in range(n_ops):
            r = k % 4
            if r == 0:
                t = xp.sin(x)
            elif r == 1:
                t = t * 0.1
            elif r == 2:
                x = x + t
            else:
                x = x * 0.99
        return xp.sum(x)
    return chain


def make_recurrent(steps):
    def recurrent(xp, p, data):
        W, x = p["W"], p["x0"]
        for _ in range(steps):
            x = xp.sin(W @ x) * 0.5
        return xp.sum(x)
    return recurrent


def make_recurrent_lax(steps):
    def recurrent(xp, p, data):
        W = p["W"]
        x = xp.fori_loop(0, steps, lambda i, x: xp.sin(W @ x) * 0.5, p["x0"])
        return xp.sum(x)
    return recurrent


def make_mlp():
    def mlp_loss(xp, p, data):
        """Mean softmax cross-entropy of a tanh MLP; the row maximum is a constant shift."""
        X, Y = data["X"], data["Y"]
        h = xp.tanh(X @ p["W0"] + p["b0"])
        h = xp.tanh(h @ p["W1"] + p["b1"])
        z = h @ p["W2"] + p["b2"]
        s = z - xp.max(xp.const(z), axis=1, keepdims=True)
        logp = s - xp.log(xp.sum(xp.exp(s), axis=1, keepdims=True))
        return -xp.sum(Y * logp) / X.shape[0]
    return mlp_loss


def logsumexp(xp, a, axis):
    m = xp.max(xp.const(a), axis=axis, keepdims=True)
    return xp.squeeze(m, axis) + xp.log(xp.sum(xp.exp(a - m), axis=axis))


LOG_2PI = math.log(2.0 * math.pi)


def make_gmm():
    def gmm_loglik(xp, p, data):
        """Mean log-likelihood of the data under a mixture of diagonal Gaussians."""
        X = data["X"]
        n, d = X.shape
        log_w = p["logits"] - logsumexp(xp, p["logits"], 0)
        z = (X[:, None, :] - p["means"][None, :, :]) * xp.exp(-p["log_scales"])[None, :, :]      # n, k, d
        log_comp = -0.5 * xp.sum(z * z, axis=2) - xp.sum(p["log_scales"], axis=1) - 0.5 * d * LOG_2PI
        return xp.sum(logsumexp(xp, log_comp + log_w, 1)) / n
    return gmm_loglik


def make_lstm():
    def lstm_loss(xp, p, data):
        """Squared error of a linear readout of an LSTM's hidden state at every step."""
        xs, ys = data["xs"], data["ys"]
        T, B = xs.shape[0], xs.shape[1]
        H = p["Wh"].shape[0]
        h = xp.zeros((B, H), dtype=xs.dtype)
        c = xp.zeros((B, H), dtype=xs.dtype)
        loss = 0.0
        for t in range(T):
            z = xs[t] @ p["Wx"] + h @ p["Wh"] + p["b"]
            i = 1.0 / (1.0 + xp.exp(-z[:, :H]))
            f = 1.0 / (1.0 + xp.exp(-z[:, H:2 * H]))
            o = 1.0 / (1.0 + xp.exp(-z[:, 2 * H:3 * H]))
            g = xp.tanh(z[:, 3 * H:])
            c = f * c + i * g
            h = o * xp.tanh(c)
            err = h @ p["Wy"] + p["by"] - ys[t]
            loss = loss + xp.sum(err * err)
        return loss / (T * B)
    return lstm_loss


# -- hand-written derivatives (plain Python / NumPy), the floors and references -------------

def logistic_hand(x, n_iter):
    """The value and d x_n / d x_0: the chain-rule product of 4 (1 - 2 x_k)."""
    d = 1.0
    for _ in range(n_iter):
        d *= 4.0 * (1.0 - 2.0 * x)
        x = 4.0 * x * (1.0 - x)
    return x, d


def product_hand(x, t):
    """The seed notes' reverse sweep: prefix products forward, suffix products backward,
    g'(x) = sum_i f^(i-1) r^(i+1). O(m), stable, O(m) storage."""
    m = len(t)
    pre = [1.0] * (m + 1)
    for i in range(m):
        pre[i + 1] = pre[i] * (x - t[i])
    suffix, d = 1.0, 0.0
    for i in range(m - 1, -1, -1):
        d += pre[i] * suffix
        suffix *= x - t[i]
    return pre[m], d


def chain_hand(x, n_ops):
    saved = []
    t = None
    for k in range(n_ops):
        r = k % 4
        if r == 0:
            saved.append(x)
            t = onp.sin(x)
        elif r == 1:
            t = t * 0.1
        elif r == 2:
            x = x + t
        else:
            x = x * 0.99
    value = onp.sum(x)
    gx, gt = onp.ones_like(x), onp.zeros_like(x)
    for k in range(n_ops - 1, -1, -1):
        r = k % 4
        if r == 3:
            gx = gx * 0.99
        elif r == 2:
            gt = gt + gx
        elif r == 1:
            gt = gt * 0.1
        else:
            gx = gx + gt * onp.cos(saved.pop())
            gt = onp.zeros_like(gt)
    return value, gx


def recurrent_hand(p, steps):
    """Backpropagation through time, written out: the pre-activations are kept, and dW
    accumulates one outer product per step (the same algorithm as a tape)."""
    W, x = p["W"], p["x0"]
    xs, zs = [], []
    for _ in range(steps):
        z = W @ x
        xs.append(x)
        zs.append(z)
        x = onp.sin(z) * 0.5
    value = onp.sum(x)
    g = onp.ones_like(x)
    dW = onp.zeros_like(W)
    for t in range(steps - 1, -1, -1):
        gz = g * (0.5 * onp.cos(zs[t]))
        dW += onp.outer(gz, xs[t])
        g = W.T @ gz
    return value, {"W": dW, "x0": g}


def recurrent_hand_gemm(p, steps):
    """The same backpropagation through time, with the cotangent of W formed once: the
    per-step vectors are stacked, and dW = G^T X is one (T x n)^T (T x n) matrix product
    instead of T outer products added one by one."""
    W, x = p["W"], p["x0"]
    n = x.shape[0]
    xs, zs = onp.empty((steps, n)), onp.empty((steps, n))
    for t in range(steps):
        xs[t] = x
        z = zs[t] = W @ x
        x = onp.sin(z) * 0.5
    value = onp.sum(x)
    g = onp.ones_like(x)
    G = onp.empty((steps, n))
    for t in range(steps - 1, -1, -1):
        gz = G[t] = g * (0.5 * onp.cos(zs[t]))
        g = W.T @ gz
    return value, {"W": G.T @ xs, "x0": g}


def mlp_problem(seed, sizes=(784, 256, 256, 10), batch=128, dtype=onp.float64):
    rng = onp.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{i}"] = (rng.normal(size=(a, b)) / onp.sqrt(a)).astype(dtype)
        params[f"b{i}"] = (0.1 * rng.normal(size=b)).astype(dtype)
    X = rng.normal(size=(batch, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=batch)
    Y = onp.eye(sizes[-1], dtype=dtype)[y]
    return params, X, Y


def make_mlp_hand(X, Y):
    """Hand-written forward pass and backpropagation: (forward(p) -> loss,
    value_and_grad_hand(p) -> (loss, gradient dict))."""
    n = X.shape[0]
    XT = X.T

    def forward(p):
        h0 = onp.tanh(X @ p["W0"] + p["b0"])
        h1 = onp.tanh(h0 @ p["W1"] + p["b1"])
        s = h1 @ p["W2"] + p["b2"]
        s -= s.max(axis=1, keepdims=True)
        e = onp.exp(s)
        se = e.sum(axis=1, keepdims=True)
        return -onp.sum(Y * (s - onp.log(se))) / n

    def value_and_grad_hand(p):
        h0 = onp.tanh(X @ p["W0"] + p["b0"])
        h1 = onp.tanh(h0 @ p["W1"] + p["b1"])
        s = h1 @ p["W2"] + p["b2"]
        s -= s.max(axis=1, keepdims=True)
        e = onp.exp(s)
        se = e.sum(axis=1, keepdims=True)
        loss = -onp.sum(Y * (s - onp.log(se))) / n
        dz = e / se
        dz -= Y
        dz /= n                                  # d loss / d logits = (softmax - Y) / n
        g = {"W2": h1.T @ dz, "b2": dz.sum(axis=0)}
        da = dz @ p["W2"].T
        da *= 1.0 - h1 * h1                      # tanh' = 1 - tanh^2
        g["W1"] = h0.T @ da
        g["b1"] = da.sum(axis=0)
        da = da @ p["W1"].T
        da *= 1.0 - h0 * h0
        g["W0"] = XT @ da
        g["b0"] = da.sum(axis=0)
        return loss, g

    return forward, value_and_grad_hand


# -- contenders -------------------------------------------------------------------------------

class Contender:
    """One way of computing a workload's derivative.

    ``g()`` is what the "gradient" column times (a value and gradient, a Jacobian, a
    Hessian), ``f()`` the plain evaluation of the function in the same library (None when
    the row shares another row's: ``f_key``). ``result()`` calls ``g`` and returns the
    canonical (value, [float64 arrays]) for validation. JAX contenders wait for their
    results (``block_until_ready``) inside the timed call. ``compile_probe()``, for jitted
    contenders, returns the XLA compile time of a fresh function (seconds)."""

    def __init__(self, key, lib, label, f, g, result, f_key=None, compile_probe=None, first_call=None):
        self.key, self.lib, self.label = key, lib, label
        self.f, self.g, self.result = f, g, result
        self.f_key = f_key or key
        self.compile_probe = compile_probe
        self.first_call = first_call        # set by the worker: (f first call, g first call) seconds


def _ad_contenders(lib, wl):
    """The contenders of one library for a workload written as ``fn(xp, params, data)``."""
    params, data = wl.params, wl.data
    out = []
    if lib == "wengert":
        import wengert
        xp = wengert_ops()
        fn = wl.make_fn()
        vg = wengert.value_and_grad(lambda p, d: fn(xp, p, d))
        out.append(Contender("wengert", lib, "`value_and_grad`", lambda: fn(xp, params, data),
                             lambda: vg(params, data), lambda: result_of(*vg(params, data))))
    elif lib == "autograd":
        import autograd
        xp = autograd_ops()
        fn = wl.make_fn()
        vg = autograd.value_and_grad(lambda p, d: fn(xp, p, d))
        out.append(Contender("autograd", lib, "`value_and_grad`", lambda: fn(xp, params, data),
                             lambda: vg(params, data), lambda: result_of(*vg(params, data))))
    elif lib == "torch":
        import torch
        import torch.func as tfunc
        xp = torch_ops()
        fn = wl.make_fn()

        def tensor(x, requires_grad=False):
            if isinstance(x, onp.ndarray):
                t = torch.from_numpy(onp.ascontiguousarray(x).copy())
            elif isinstance(x, float):
                t = torch.tensor(x, dtype=torch.float64)
            else:
                return x
            return t.requires_grad_(True) if requires_grad else t
        tdata = tree_map(lambda x: tensor(x) if isinstance(x, onp.ndarray) else x, data)   # lists of floats stay
        tparams = tree_map(tensor, params)                       # for f and torch.func
        leaf_params = tree_map(lambda x: tensor(x, True), params)  # leaves for eager autograd
        leaves = tree_leaves(leaf_params)

        def eager():
            loss = fn(xp, leaf_params, tdata)
            return loss.detach(), torch.autograd.grad(loss, leaves)

        def eager_result():
            value, grads = eager()
            return result_of(value, list(grads))
        out.append(Contender("torch eager", lib, "`torch.autograd.grad` (eager)", lambda: fn(xp, tparams, tdata),
                             eager, eager_result))
        gv = tfunc.grad_and_value(lambda p, d: fn(xp, p, d))

        def func_result():
            grads, value = gv(tparams, tdata)
            return result_of(value, grads)
        out.append(Contender("torch.func", lib, "`torch.func.grad_and_value`", None, lambda: gv(tparams, tdata),
                             func_result, f_key="torch eager"))
    elif lib == "jax":
        import jax
        import jax.numpy as jnp
        xp = jax_ops()
        fn = wl.make_fn()

        def arr(x):
            return jnp.asarray(x) if isinstance(x, (onp.ndarray, float)) else x
        jparams = tree_map(arr, params)
        jdata = tree_map(lambda x: jnp.asarray(x) if isinstance(x, onp.ndarray) else x, data)  # lists stay
        vg = jax.value_and_grad(lambda p, d: fn(xp, p, d))
        block = jax.block_until_ready
        out.append(Contender("jax eager", lib, "`jax.value_and_grad` (eager)",
                             lambda: block(fn(xp, jparams, jdata)), lambda: block(vg(jparams, jdata)),
                             lambda: result_of(*vg(jparams, jdata))))
        jdata_jit = tree_map(arr, wl.jit_data())

        def make_jit_pair():
            fj = wl.make_jit_fn()          # a fresh Python function: a cold JIT cache
            return (jax.jit(lambda p, d: fj(xp, p, d)),
                    jax.jit(jax.value_and_grad(lambda p, d: fj(xp, p, d))))
        jf, jvg = make_jit_pair()

        def compile_probe():
            lowered = make_jit_pair()[1].lower(jparams, jdata_jit)
            import time
            t0 = time.perf_counter()
            lowered.compile()
            return time.perf_counter() - t0
        how = " (`lax.fori_loop`)" if wl.jit_loop else ""
        out.append(Contender("jax jit", lib, f"`jax.jit(jax.value_and_grad)`{how} steady state",
                             lambda: block(jf(jparams, jdata_jit)), lambda: block(jvg(jparams, jdata_jit)),
                             lambda: result_of(*jvg(jparams, jdata_jit)), compile_probe=compile_probe))
    return out


class Workload:
    """A workload: problem data (NumPy, deterministic from the seed, so that every process
    builds the same), the user function, a reference for validation, the contenders."""

    name = title = ""
    dtype = onp.float64
    rtol, atol_rel = 1e-9, 1e-12     # validation: |a - ref| <= atol_rel * max|ref| + rtol * |ref|
    per_op = False                   # is "µs per primitive operation" meaningful here?
    static_ops = None                # primitive operations per evaluation of f, if known
    memory = False                   # measure peak memory (tracemalloc, RSS)
    fd_check = True                  # check the reference against central differences
    jit_loop = False                 # JAX jit runs make_jit_fn (lax.fori_loop), not make_fn

    def __init__(self, size, seed):
        self.size, self.seed = size, seed
        self.params, self.data = self.problem(onp.random.default_rng(seed))

    def problem(self, rng):
        raise NotImplementedError

    def make_fn(self):
        raise NotImplementedError

    def make_jit_fn(self):
        return self.make_fn()

    def jit_data(self):
        return self.data

    def numpy_f(self, params):
        """f in plain NumPy (for central differences)."""
        return self.make_fn()(numpy_ops(), params, self.data)

    def reference(self):
        """(value, [gradient leaves]) computed by hand, or None (then validation is
        against central differences and between the libraries)."""
        return None

    def hand_contenders(self):
        return []

    def contenders(self, lib):
        if lib == "wengert":
            return self.hand_contenders() + _ad_contenders("wengert", self)
        return _ad_contenders(lib, self)

    def describe(self):
        return self.title


class Logistic(Workload):
    name = "logistic"
    per_op = True
    jit_loop = True
    fd_check = False    # chaotic: d x_n / d x_0 ~ 2^n; validated by the exact chain-rule product instead

    def problem(self, rng):
        self.n_iter = self.size["logistic"]
        self.static_ops = 3 * self.n_iter
        self.title = f"scalar loop: logistic map x <- 4x(1-x), {self.n_iter} iterations, d x_n / d x_0"
        return 0.3, {}

    def make_fn(self):
        return make_logistic(self.n_iter)

    def make_jit_fn(self):
        return make_logistic_lax(self.n_iter)

    def reference(self):
        v, d = logistic_hand(self.params, self.n_iter)
        return v, [onp.asarray(d)]

    def hand_contenders(self):
        x, n = self.params, self.n_iter
        fn = self.make_fn()
        xp = numpy_ops()
        return [Contender("plain Python", "wengert", "chain-rule product by hand (plain Python floats)",
                          lambda: fn(xp, x, {}), lambda: logistic_hand(x, n),
                          lambda: result_of(*logistic_hand(x, n)))]


class Product(Workload):
    name = "product"
    per_op = True
    jit_loop = True

    def problem(self, rng):
        self.m = m = self.size["product"]
        self.static_ops = 2 * m
        self.title = f"scalar loop: prod_i (x - t_i), m = {m} (seed notes 003), d/dx"
        x = 0.3
        # |x - t_i| near 1, so that the product of m factors neither overflows nor underflows
        t = x + rng.choice([-1.0, 1.0], size=m) * (1.0 + 0.1 * rng.normal(size=m))
        return x, {"t": [float(v) for v in t]}

    def make_fn(self):
        return make_product(self.m)

    def make_jit_fn(self):
        return make_product_lax(self.m)

    def jit_data(self):
        return {"t": onp.asarray(self.data["t"])}

    def reference(self):
        v, d = product_hand(self.params, self.data["t"])
        # an independent check: g'(x) = g(x) sum_i 1 / (x - t_i) (fine away from the roots)
        d2 = v * sum(1.0 / (self.params - t) for t in self.data["t"])
        onp.testing.assert_allclose(d, d2, rtol=1e-9, err_msg="product: reverse sweep vs g(x) sum 1/(x - t_i)")
        return v, [onp.asarray(d)]

    def hand_contenders(self):
        x, t = self.params, self.data["t"]
        fn = self.make_fn()
        xp = numpy_ops()
        return [Contender("plain Python", "wengert", "seed notes' forward/reverse product sweep (plain Python)",
                          lambda: fn(xp, x, self.data), lambda: product_hand(x, t),
                          lambda: result_of(*product_hand(x, t)))]


class MLP(Workload):
    per_op = False

    def __init__(self, size, seed, dtype):
        self.dtype = dtype
        self.name = "mlp32" if dtype == onp.float32 else "mlp64"
        if dtype == onp.float32:
            self.rtol, self.atol_rel = 2e-4, 2e-5
        super().__init__(size, seed)

    def problem(self, rng):
        sizes, batch = self.size["mlp"]
        self.title = (f"MLP {'-'.join(map(str, sizes))}, batch {batch}, {onp.dtype(self.dtype).name}, tanh, "
                      f"softmax cross-entropy, value and gradient over 6 parameter arrays")
        params, X, Y = mlp_problem(self.seed, sizes, batch, self.dtype)
        return params, {"X": X, "Y": Y}

    def make_fn(self):
        return make_mlp()

    def reference(self):
        # in float64, from the (possibly float32) data
        X, Y = (self.data[k].astype(onp.float64) for k in ("X", "Y"))
        _, hand = make_mlp_hand(X, Y)
        v, g = hand({k: a.astype(onp.float64) for k, a in self.params.items()})
        return float(v), [g[k] for k in sorted(g)]

    def hand_contenders(self):
        forward, hand = make_mlp_hand(self.data["X"], self.data["Y"])
        p = self.params
        return [Contender("numpy hand", "wengert", "hand-written NumPy forward + backprop",
                          lambda: forward(p), lambda: hand(p), lambda: result_of(*hand(p)))]


class Chain(Workload):
    name = "chain"
    per_op = True

    def problem(self, rng):
        self.n_ops, n = self.size["chain"]
        self.static_ops = self.n_ops + 1
        self.title = (f"chain of {self.n_ops} elementwise ops (t = sin(x), t = 0.1 t, x = x + t, x = 0.99 x, "
                      f"repeated) on a {n}-vector, then sum")
        return rng.normal(size=n), {}

    def make_fn(self):
        return make_chain(self.n_ops)

    def reference(self):
        v, g = chain_hand(self.params, self.n_ops)
        return float(v), [g]

    def hand_contenders(self):
        x, n_ops = self.params, self.n_ops
        fn = self.make_fn()
        xp = numpy_ops()
        return [Contender("numpy hand", "wengert", "hand-written NumPy forward + backward",
                          lambda: fn(xp, x, {}), lambda: chain_hand(x, n_ops),
                          lambda: result_of(*chain_hand(x, n_ops)))]


class Recurrent(Workload):
    name = "recurrent"
    per_op = True
    memory = True
    jit_loop = True

    def problem(self, rng):
        self.steps, n = self.size["recurrent"]
        self.static_ops = 3 * self.steps + 1
        self.title = (f"recurrent loop x <- sin(W @ x) * 0.5, {self.steps} steps, x in R^{n}, "
                      f"d sum(x_T) / d(W, x_0)")
        # W = 1.98 Q with Q orthogonal: the linearised map 0.5 W has every singular value
        # 0.99, so x_T and the gradients shrink like 0.99^T (about 2e-9 for T = 2000) and
        # never reach the subnormal range, whose arithmetic is slow.
        Q, _ = onp.linalg.qr(rng.normal(size=(n, n)))
        return {"W": 1.98 * Q, "x0": rng.normal(size=n)}, {}

    def make_fn(self):
        return make_recurrent(self.steps)

    def make_jit_fn(self):
        return make_recurrent_lax(self.steps)

    def reference(self):
        v, g = recurrent_hand(self.params, self.steps)
        return float(v), [g["W"], g["x0"]]

    def hand_contenders(self):
        p, steps = self.params, self.steps
        fn = self.make_fn()
        xp = numpy_ops()
        return [Contender("numpy hand", "wengert", "hand-written NumPy BPTT (outer product per step)",
                          lambda: fn(xp, p, {}), lambda: recurrent_hand(p, steps),
                          lambda: result_of(*recurrent_hand(p, steps))),
                Contender("numpy hand GEMM", "wengert", "hand-written NumPy BPTT, dW = G^T X as one matrix product",
                          None, lambda: recurrent_hand_gemm(p, steps),
                          lambda: result_of(*recurrent_hand_gemm(p, steps)), f_key="numpy hand")]


class GMM(Workload):
    name = "gmm"

    def problem(self, rng):
        d, k, n = self.size["gmm"]
        self.title = f"Gaussian mixture log-likelihood, d = {d}, k = {k}, n = {n}, diagonal covariances"
        true_means = 3.0 * rng.normal(size=(k, d))
        X = true_means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
        params = {"logits": 0.1 * rng.normal(size=k), "means": 2.0 * rng.normal(size=(k, d)),
                  "log_scales": 0.1 * rng.normal(size=(k, d))}
        return params, {"X": X}

    def make_fn(self):
        return make_gmm()

    def hand_contenders(self):
        fn, xp, p, data = self.make_fn(), numpy_ops(), self.params, self.data
        return [Contender("numpy", "wengert", "the same code in plain NumPy (forward only)",
                          lambda: fn(xp, p, data), None, None)]


class LSTM(Workload):
    name = "lstm"
    per_op = True

    def problem(self, rng):
        T, B, D, H = self.size["lstm"]
        self.title = (f"LSTM sequence loss, T = {T} steps, batch {B}, input {D}, hidden {H}, "
                      f"squared error of a readout at every step")
        params = {"Wx": rng.normal(size=(D, 4 * H)) / onp.sqrt(D), "Wh": rng.normal(size=(H, 4 * H)) / onp.sqrt(H),
                  "b": 0.1 * rng.normal(size=4 * H), "Wy": rng.normal(size=(H, 1)) / onp.sqrt(H),
                  "by": onp.zeros(1)}
        data = {"xs": rng.normal(size=(T, B, D)), "ys": 0.5 * rng.normal(size=(T, B, 1))}
        return params, data

    def make_fn(self):
        return make_lstm()

    def hand_contenders(self):
        fn, xp, p, data = self.make_fn(), numpy_ops(), self.params, self.data
        return [Contender("numpy", "wengert", "the same code in plain NumPy (forward only)",
                          lambda: fn(xp, p, data), None, None)]


# -- Jacobian and Hessian: the contenders of bench_jacobians.py ------------------------------

def _bench_jacobians():
    try:
        from . import bench_jacobians
    except ImportError:  # run from benchmarks/ as a script directory
        import bench_jacobians
    return bench_jacobians


class _JacobianBase(Workload):
    """Contenders come from ``bench_jacobians.py`` (its closed forms validate them);
    this adds a plain evaluation of f per library for the "f" column."""

    fd_check = False    # check_reference checks the closed form against central differences

    def _lib_f(self, lib, A, x, expr):
        if lib == "wengert":
            import wengert.numpy as wnp
            return [("wengert", lambda: expr(wnp, A, x)), ("numpy", lambda: expr(onp, A, x))]
        if lib == "autograd":
            import autograd.numpy as anp
            return [("autograd", lambda: expr(anp, A, x))]
        if lib == "torch":
            import torch
            At, xt = torch.from_numpy(A), torch.from_numpy(x)
            return [("torch", lambda: expr(torch, At, xt))]
        if lib == "jax":
            import jax
            import jax.numpy as jnp
            Aj, xj = jnp.asarray(A), jnp.asarray(x)
            jf = jax.jit(lambda A, x: expr(jnp, A, x))
            return [("jax", lambda: jax.block_until_ready(expr(jnp, Aj, xj))),
                    ("jax jit", lambda: jax.block_until_ready(jf(Aj, xj)))]
        return []

    def _wrap(self, lib, bc, compile_rows, A, x, expr):
        f_rows = dict(self._lib_f(lib, A, x, expr))
        probes = {name: (make, args) for name, _label, make, args in compile_rows}
        bj = _bench_jacobians()
        out, f_owner = [], {}
        for name, c in bc.items():
            tool = c.tool
            if (tool == "numpy" and lib != "wengert") or (tool != "numpy" and tool != lib):
                continue
            fk = "jax jit" if name.startswith("jax jit") else tool
            f = None
            if fk in f_rows and fk not in f_owner:
                f_owner[fk] = name
                f = f_rows[fk]
            probe = None
            if name in probes:
                make, args = probes[name]
                probe = (lambda make=make, args=args: bj.jit_compile_times(make, args, 1)[1])
            out.append(Contender(name, lib, c.label, f, c.run,
                                 (lambda c=c: (None, [c.value()])), f_key=f_owner.get(fk, name),
                                 compile_probe=probe))
        return out


class Jacobian(_JacobianBase):
    name = "jacobian"

    def problem(self, rng):
        n = self.size["jacobian"]
        self.title = f"Jacobian of tanh(W @ x), R^{n} -> R^{n} (float64)"
        W = rng.normal(size=(n, n)) / onp.sqrt(n)
        return rng.normal(size=n), {"W": W}

    def reference(self):
        return None, [_bench_jacobians().jac_closed_form(self.data["W"], self.params)]

    def check_reference(self):
        bj = _bench_jacobians()
        W, x = self.data["W"], self.params
        d = onp.random.default_rng(1).normal(size=x.shape)
        onp.testing.assert_allclose(bj.jac_closed_form(W, x) @ d,
                                    bj.central_difference(lambda y: onp.tanh(W @ y), x, d), rtol=1e-6, atol=1e-9,
                                    err_msg="closed-form Jacobian vs central differences")

    def contenders(self, lib):
        bj = _bench_jacobians()
        bj.load_libraries([lib])
        bc, compile_rows = bj.jacobian_contenders(self.data["W"], self.params)
        return self._wrap(lib, bc, compile_rows, self.data["W"], self.params, lambda m, W, x: m.tanh(W @ x))


class Hessian(_JacobianBase):
    name = "hessian"

    def problem(self, rng):
        n = self.size["hessian"]
        self.title = f"Hessian of sum(tanh(A @ x)**2), x in R^{n} (float64)"
        A = rng.normal(size=(n, n)) / onp.sqrt(n)
        return rng.normal(size=n), {"A": A}

    def reference(self):
        return None, [_bench_jacobians().hess_closed_form(self.data["A"], self.params)]

    def check_reference(self):
        bj = _bench_jacobians()
        A, x = self.data["A"], self.params
        d = onp.random.default_rng(2).normal(size=x.shape)
        onp.testing.assert_allclose(bj.hess_closed_form(A, x) @ d,
                                    bj.central_difference(lambda y: bj.grad_closed_form(A, y), x, d),
                                    rtol=1e-6, atol=1e-9, err_msg="closed-form Hessian vs central differences")

    def contenders(self, lib):
        bj = _bench_jacobians()
        bj.load_libraries([lib])
        bc, compile_rows = bj.hessian_contenders(self.data["A"], self.params)
        return self._wrap(lib, bc, compile_rows, self.data["A"], self.params,
                          lambda m, A, x: m.sum(m.tanh(A @ x) ** 2))


# -- sizes --------------------------------------------------------------------------------

SIZES = {
    "full": {"logistic": 1000, "product": 1000, "mlp": ((784, 256, 256, 10), 128), "chain": (200, 1000),
             "recurrent": (2000, 500), "jacobian": 200, "hessian": 100, "gmm": (10, 25, 1000),
             "lstm": (30, 32, 16, 64)},
    "quick": {"logistic": 60, "product": 60, "mlp": ((196, 64, 64, 10), 32), "chain": (40, 200),
              "recurrent": (60, 60), "jacobian": 50, "hessian": 30, "gmm": (5, 5, 100),
              "lstm": (5, 8, 8, 16)},
    "tiny": {"logistic": 10, "product": 10, "mlp": ((8, 6, 6, 3), 4), "chain": (8, 5),
             "recurrent": (5, 4), "jacobian": 4, "hessian": 3, "gmm": (2, 3, 7), "lstm": (3, 2, 3, 4)},
}

WORKLOADS = ("logistic", "product", "mlp64", "mlp32", "chain", "recurrent", "jacobian", "hessian", "gmm", "lstm")


def make_workload(name, size_name, seed):
    size = SIZES[size_name]
    if name == "mlp64":
        return MLP(size, seed, onp.float64)
    if name == "mlp32":
        return MLP(size, seed, onp.float32)
    cls = {"logistic": Logistic, "product": Product, "chain": Chain, "recurrent": Recurrent,
           "jacobian": Jacobian, "hessian": Hessian, "gmm": GMM, "lstm": LSTM}[name]
    return cls(size, seed)
