"""Sextant serving runtime: BentoML model server, weighted router, batch scorer."""
