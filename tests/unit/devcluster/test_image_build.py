"""When an image build is retried: only for a cache entry whose layer another checkout's prune removed."""

from __future__ import annotations

from sextant_devcluster.images.build import is_stale_layer_cache

# buildah 1.28 (Debian)'s words when `--layers` found a cached step whose top layer had just been removed (seen when one
# checkout pruned its older builds while another built the trainer image).
STALE = ("[1/2] STEP 6/11: COPY contracts/ contracts/\n"
         "Error: checking if cached image exists from a previous build: getting top layer info: layer not known")


def test_a_cache_entry_whose_layer_was_pruned_is_retried() -> None:
    assert is_stale_layer_cache(STALE)


def test_a_failing_build_step_is_not_retried() -> None:
    assert not is_stale_layer_cache("[2/2] STEP 4/9: RUN sextant-train --help\nError: building at STEP "
                                    "\"RUN sextant-train --help\": exit status 1")
