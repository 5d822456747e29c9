"""The router's routed set: one good probe joins a variant; refusals, or a longer silence, remove it."""

from __future__ import annotations

import pytest

from sextant_services.router.readiness import FAILURE_THRESHOLD, SILENCE_THRESHOLD, ReadinessHysteresis


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


def test_probes_without_an_answer_remove_a_variant_only_after_a_long_silence() -> None:
    routed = ReadinessHysteresis[str]()
    routed.update({"blue": True, "green": True})
    for _ in range(SILENCE_THRESHOLD - 1):  # CoreDNS or the servers are late: nginx is still serving
        assert routed.update({"blue": None, "green": None}) == {"blue", "green"}
    assert routed.update({"blue": None, "green": True}) == {"green"}


def test_refusals_count_through_unanswered_probes_and_a_good_probe_clears_both() -> None:
    routed = ReadinessHysteresis[str](failure_threshold=2, silence_threshold=4)
    routed.update({"blue": True})
    assert routed.update({"blue": False}) == {"blue"}
    assert routed.update({"blue": None}) == {"blue"}
    assert routed.update({"blue": False}) == frozenset()  # the second refusal since the last good probe
    routed.update({"blue": True})
    for outcome in (None, False, None, True, None, None, None):
        assert routed.update({"blue": outcome}) == {"blue"}


def test_an_unanswered_probe_never_makes_a_variant_ready() -> None:
    routed = ReadinessHysteresis[str]()
    assert routed.update({"green": None}) == frozenset()


def test_silence_cannot_be_shorter_than_refusal() -> None:
    with pytest.raises(ValueError, match="silence_threshold"):
        ReadinessHysteresis[str](failure_threshold=3, silence_threshold=2)
