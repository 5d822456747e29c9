"""Sextant devcluster package."""
