"""wengert's benchmarks: ``python -m benchmarks`` runs the suite (``suite.py``);
``bench_reverse.py`` and ``bench_jacobians.py`` are the focused scripts. Not part of the
installed package. Nothing is imported here: the suite sets the thread limits before
NumPy, torch or JAX load."""
