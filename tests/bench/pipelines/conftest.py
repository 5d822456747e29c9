"""Benchmarks of the training pipelines (run by `make bench`, never by `make test`)."""
