"""Benchmarks that print figures (never timed tests): guard latency now; GPU and load benchmarks next."""
