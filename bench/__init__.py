"""Benchmarks: each module has a `main()` that runs it and prints its figures."""
