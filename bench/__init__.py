"""Benchmark of the portal: a data generator at scale and a load runner against gunicorn."""
