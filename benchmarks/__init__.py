"""NetWarden benchmarks: run them all with ``benchmarks/run`` (see BENCHMARKS.md)."""
