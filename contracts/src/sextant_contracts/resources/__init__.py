"""Typed models of Sextant's custom resources, and the CRDs generated from them."""
