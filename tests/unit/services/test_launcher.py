"""The serve launcher's environment: settings from flags and a private BENTOML_HOME per server."""

from __future__ import annotations

import argparse

from sextant_services.__main__ import serve_env


def _args(**over: object) -> argparse.Namespace:
    base = {"store": "file:///s", "model": "m", "version": None, "alias": "production", "variant": "a",
            "workers": 2, "no_batching": False, "max_batch_size": 32, "max_latency_ms": 200, "bentoml_home": None}
    return argparse.Namespace(**{**base, **over})


def test_flags_become_settings_and_each_server_gets_its_own_bentoml_home() -> None:
    first = serve_env(_args(), {"SEXTANT_MODEL_VERSION": "9"})
    second = serve_env(_args(), {})
    assert first["SEXTANT_MODEL_ALIAS"] == "production" and "SEXTANT_MODEL_VERSION" not in first
    assert first["SEXTANT_WORKERS"] == "2" and first["SEXTANT_MAX_BATCH_SIZE"] == "32"
    assert first["BENTOML_HOME"] != second["BENTOML_HOME"]


def test_an_explicit_bentoml_home_is_kept() -> None:
    assert serve_env(_args(bentoml_home="/x"), {})["BENTOML_HOME"] == "/x"
    assert serve_env(_args(), {"BENTOML_HOME": "/y"})["BENTOML_HOME"] == "/y"
