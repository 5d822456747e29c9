"""Sextant services package."""
