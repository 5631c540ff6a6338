"""Benchmark modules: each defines ORDER, generate(ctx) and targets(ctx); see bench/README."""
