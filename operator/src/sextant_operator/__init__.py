"""Sextant operator package."""
