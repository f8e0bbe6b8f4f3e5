"""Benchmarks: each ``python -m bench.<name> [--tiny|--full]`` prints a table and writes JSON to bench/results/."""
