"""Sextant contracts package."""
