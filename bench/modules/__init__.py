"""Benchmark modules: each file defines ORDER, generate(ctx) and targets(ctx); see bench/README.md."""
