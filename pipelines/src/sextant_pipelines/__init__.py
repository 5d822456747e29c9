"""Sextant pipelines package."""
