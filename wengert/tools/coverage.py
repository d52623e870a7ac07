"""The table of differentiable functions, generated from the rule families' ``__all__``
and the wrapped submodules' ``DIFFERENTIABLE`` lists (the README's copy is checked
against it by the tests)."""
import importlib


def _module(name):
    # ``wengert.numpy.shape`` is NumPy's ``shape`` function, so modules are imported by name.
    return importlib.import_module(f"wengert.{name}")


def _families():
    fam = {m: _module(f"numpy.{m}") for m in ("constructors", "convolution", "elementwise", "indexing",
                                              "products", "reductions", "shape")}
    rows = [
        ("elementwise", fam["elementwise"].__all__),
        ("reductions", fam["reductions"].__all__),
        ("shape", fam["shape"].__all__),
        ("indexing", ["x[...]", "x[...] = v"] + fam["indexing"].__all__),
        ("products", [n for n in fam["products"].__all__ if n != "einsum_path"]),
        ("construction", fam["constructors"].__all__),
        ("convolution", fam["convolution"].__all__),
    ]
    for sub in ("numpy.linalg", "numpy.fft", "scipy.linalg", "scipy.special", "scipy.stats", "scipy.signal",
                "scipy.integrate"):
        names = getattr(_module(sub), "DIFFERENTIABLE", [])
        if names:
            prefix = sub.split(".", 1)[1] if sub.startswith("numpy.") else sub
            rows.append((sub, [f"{prefix}.{n}" for n in names]))
    return rows


def coverage_markdown():
    lines = ["| family | differentiable functions |", "|---|---|"]
    for family, names in _families():
        lines.append(f"| {family} | " + ", ".join(f"`{n}`" for n in names) + " |")
    return "\n".join(lines)
