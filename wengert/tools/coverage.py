"""The table of differentiable functions, generated from the rule families' ``__all__``
(the README's copy is checked against it by the tests)."""
import importlib

# ``wengert.numpy.shape`` is NumPy's ``shape`` function, so the families are imported by name.
constructors, elementwise, indexing, linalg, products, reductions, shape = (
    importlib.import_module(f"wengert.numpy.{m}")
    for m in ("constructors", "elementwise", "indexing", "linalg", "products", "reductions", "shape"))

_FAMILIES = [
    ("elementwise", elementwise.__all__),
    ("reductions", reductions.__all__),
    ("shape", shape.__all__),
    ("indexing", ["x[...]"] + indexing.__all__),
    ("products", [n for n in products.__all__ if n != "einsum_path"]),
    ("construction", constructors.__all__),
    ("linalg", [f"linalg.{n}" for n in linalg.DIFFERENTIABLE]),
]


def coverage_markdown():
    lines = ["| family | differentiable functions |", "|---|---|"]
    for family, names in _FAMILIES:
        lines.append(f"| {family} | " + ", ".join(f"`{n}`" for n in names) + " |")
    return "\n".join(lines)
