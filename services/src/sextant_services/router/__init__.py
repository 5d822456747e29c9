"""Weighted routing between model variants where no Gateway API is available: nginx plus a readiness loop."""
