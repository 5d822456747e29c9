"""What the real node keeps of the project's images, and when the disk is too full to start it."""

from pathlib import Path

from sextant_devcluster.node_images import GIB, parse_listing, space_needed, space_shortfall, stale_refs

LISTING = """\
REF                                  TYPE                                       DIGEST      SIZE      PLATFORMS   LABELS
sextant.local/operator:new application/vnd.docker...v2+json sha256:n1 284.5 MiB linux/amd64 managed
sextant.local/operator:old application/vnd.docker...v2+json sha256:o1 284.5 MiB linux/amd64 managed
sextant.local/pause:p application/vnd.docker...v2+json sha256:p1 757.0 KiB linux/amd64 managed,pinned
sha256:newid application/vnd.docker...v2+json sha256:n1 284.5 MiB linux/amd64 managed
sha256:oldid application/vnd.docker...v2+json sha256:o1 284.5 MiB linux/amd64 managed
docker.io/library/busybox:1 application/vnd.docker...v2+json sha256:b1 2.1 MiB linux/amd64 -
"""


def test_the_listing_gives_each_ref_its_manifest_digest() -> None:
    pairs = parse_listing(LISTING)
    assert ("sextant.local/operator:old", "sha256:o1") in pairs
    assert ("sha256:newid", "sha256:n1") in pairs
    assert len(pairs) == 6


def test_an_earlier_build_goes_with_the_image_id_ref_the_cri_plugin_added() -> None:
    wanted = ["sextant.local/operator:new", "sextant.local/pause:p"]
    assert stale_refs(parse_listing(LISTING), wanted) == ["sextant.local/operator:old", "sha256:oldid"]


def test_an_image_the_index_still_names_under_another_tag_is_kept() -> None:
    listing = [("sextant.local/trainer:a", "sha256:same"), ("sextant.local/trainer:b", "sha256:same")]
    assert stale_refs(listing, ["sextant.local/trainer:b"]) == []


def test_images_of_other_registries_are_not_the_projects_to_delete() -> None:
    assert "docker.io/library/busybox:1" not in stale_refs(parse_listing(LISTING), [])


def test_the_space_check_counts_the_unpacked_images_and_room_for_pods() -> None:
    assert space_needed([GIB, GIB]) == 4 * GIB + 4 * GIB
    assert space_shortfall(9 * GIB, [GIB, GIB], Path("/c")) is None
    message = space_shortfall(5 * GIB, [GIB, GIB], Path("/cache/containerd"))
    assert message is not None
    assert "only 5.0 GiB free on the file system of /cache/containerd" in message
    assert "needs 8.0 GiB: 4.0 to import 2 image(s)" in message
    assert "Disk space" in message
