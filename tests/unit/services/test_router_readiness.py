"""The router's routed set: one good probe joins a variant, several bad ones in a row remove it."""

from __future__ import annotations

import pytest

from sextant_services.router.readiness import FAILURE_THRESHOLD, ReadinessHysteresis


def test_a_variant_joins_on_its_first_good_probe() -> None:
    routed = ReadinessHysteresis[str]()
    assert routed.update({"blue": False, "green": False}) == frozenset()
    assert routed.update({"blue": True, "green": False}) == {"blue"}


def test_a_ready_variant_survives_missed_probes_below_the_threshold_and_leaves_at_it() -> None:
    routed = ReadinessHysteresis[str]()
    routed.update({"blue": True, "green": True})
    for _ in range(FAILURE_THRESHOLD - 1):  # a busy node: both miss their probe deadlines at once
        assert routed.update({"blue": False, "green": False}) == {"blue", "green"}
    assert routed.update({"blue": False, "green": True}) == {"green"}


def test_a_good_probe_resets_the_count_of_failures() -> None:
    routed = ReadinessHysteresis[str](failure_threshold=2)
    routed.update({"blue": True})
    for _ in range(5):
        assert routed.update({"blue": False}) == {"blue"}
        assert routed.update({"blue": True}) == {"blue"}
    routed.update({"blue": False})
    assert routed.update({"blue": False}) == frozenset()


def test_upstreams_no_longer_probed_are_forgotten_and_a_new_service_starts_unproven() -> None:
    routed = ReadinessHysteresis[tuple[str, str]]()
    routed.update({("green", "http://green-v1"): True})
    # green moved to a new version's Service: its old record does not carry over
    assert routed.update({("green", "http://green-v2"): False}) == frozenset()
    assert routed.update({("green", "http://green-v1"): False}) == frozenset()


def test_the_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        ReadinessHysteresis[str](failure_threshold=0)
