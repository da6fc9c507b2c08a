"""Wishflow's benchmarks: run with ``make bench`` (or ``make bench-quick``); results in bench/RESULTS.md."""
