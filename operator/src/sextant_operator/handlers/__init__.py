"""Thin kopf handlers: read the object, call a pure reconciler, hand the result to the status writer."""
