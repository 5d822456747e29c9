"""Admission: the checks CEL cannot express (algorithm catalogue, metrics per task), served over TLS."""
