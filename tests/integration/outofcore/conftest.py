"""The out-of-core tests read from the embedded artifact store's server (versitygw) on loopback."""

from tests.support.versitygw import versitygw

__all__ = ["versitygw"]
