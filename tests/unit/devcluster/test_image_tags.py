"""An image's content tag follows what the image copies: the Dockerfile and its files, never unrelated files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sextant_devcluster.images.build import plan_image
from sextant_devcluster.images.context import copied_files, copy_sources, is_ignored, parse_dockerignore
from sextant_devcluster.images.definitions import IMAGES, KFP_EXEC_IMAGES, ImageDefinition, select_images
from tests.support.resources import REPO

OPERATOR = next(i for i in IMAGES if i.name == "operator")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A copy of the parts of the repository the operator image reads, plus an unrelated file."""
    for path in ["pyproject.toml", "uv.lock", "operator/Dockerfile", "operator/Dockerfile.dockerignore"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, tmp_path / path)
    for tree in ["contracts", "operator/src"]:
        shutil.copytree(REPO / tree, tmp_path / tree, ignore=shutil.ignore_patterns("__pycache__"))
    for member in ["pipelines", "services", "controlplane"]:
        (tmp_path / member).mkdir(exist_ok=True)
        shutil.copy(REPO / member / "pyproject.toml", tmp_path / member / "pyproject.toml")
    (tmp_path / "services" / "src").mkdir()
    (tmp_path / "services" / "src" / "server.py").write_text("x = 1\n")
    return tmp_path


def _tag(repo: Path, image: ImageDefinition = OPERATOR) -> str:
    return plan_image(image, repo, repo).tag


def test_tag_is_stable_and_twelve_hex_digits(repo: Path) -> None:
    tag = _tag(repo)
    assert tag == _tag(repo) and len(tag) == 12 and int(tag, 16) >= 0


def test_tag_changes_when_a_copied_source_file_changes(repo: Path) -> None:
    before = _tag(repo)
    main = repo / "operator/src/sextant_operator/main.py"
    main.write_text(main.read_text() + "\n# changed\n")
    assert _tag(repo) != before


def test_tag_changes_when_the_lock_or_the_dockerfile_changes(repo: Path) -> None:
    before = _tag(repo)
    (repo / "uv.lock").write_text((repo / "uv.lock").read_text() + "\n")
    after_lock = _tag(repo)
    dockerfile = repo / "operator/Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("EXPOSE 8080 9443", "EXPOSE 8080"))
    assert len({before, after_lock, _tag(repo)}) == 3


def test_tag_ignores_unrelated_files_and_bytecode(repo: Path) -> None:
    before = _tag(repo)
    (repo / "services/src/server.py").write_text("x = 2\n")  # another image's source
    (repo / "README.md").write_text("docs\n")
    cache = repo / "operator/src/sextant_operator/__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "main.cpython-311.pyc").write_bytes(b"\0")
    assert _tag(repo) == before


def test_tag_follows_the_base_image_and_the_target(repo: Path) -> None:
    with_arg = ImageDefinition("operator", "operator/Dockerfile", build_args=(("EXTRA", "1"),))
    with_target = ImageDefinition("operator", "operator/Dockerfile", target="build")
    assert len({_tag(repo), _tag(repo, with_arg), _tag(repo, with_target)}) == 3
    assert plan_image(OPERATOR, repo, repo).build_args["BASE_IMAGE"].startswith("sextant.local/base:")


def test_copy_sources_skip_other_stages_and_read_json_and_flags() -> None:
    dockerfile = """FROM x AS build
COPY pyproject.toml uv.lock ./
COPY --chown=1:1 contracts/ contracts/
# COPY commented/ out/
COPY ["a b.txt", "c/"]
ADD ./d \\
    /d
FROM x
COPY --from=build /app /app
"""
    assert copy_sources(dockerfile) == ("pyproject.toml", "uv.lock", "contracts", "a b.txt", "d")


@pytest.mark.parametrize(("path", "ignored"), [
    ("uv.lock", False), ("operator/src/a.py", False), ("operator/src/__pycache__/a.pyc", True),
    ("services/src/x.py", True), ("services/pyproject.toml", False), (".venv/bin/python", True),
    ("contracts/src/x.egg-info/PKG-INFO", True),
])
def test_dockerignore_excludes_all_but_the_listed_paths(path: str, ignored: bool) -> None:
    rules = parse_dockerignore((REPO / "operator/Dockerfile.dockerignore").read_text())
    assert is_ignored(path, rules) is ignored


def test_copied_files_are_those_under_a_source_and_not_ignored() -> None:
    rules = parse_dockerignore("**\n!a/\n**/*.pyc\n")
    files = copied_files(["a/x.py", "a/x.pyc", "b/y.py", "ab/z.py"], ["a", "b"], rules)
    assert files == ("a/x.py",)


def test_every_image_copies_only_what_its_ignore_file_lets_in() -> None:
    for image in (*IMAGES, *KFP_EXEC_IMAGES):
        if image.generated_context:
            continue
        rules = parse_dockerignore((REPO / image.ignorefile).read_text())
        sources = copy_sources((REPO / image.dockerfile).read_text())
        assert not [s for s in sources if is_ignored(s, rules)], f"{image.name} copies ignored paths"


def test_select_images_names_the_unknown_one() -> None:
    assert [i.name for i in select_images([])] == ["pause", "operator", "trainer", "server", "router", "objectstore",
                                                        "dask-operator"]
    assert [i.name for i in select_images(["router", "pause"])] == ["pause", "router"]
    with pytest.raises(ValueError, match="unknown image nope: the images are argo-controller, argoexec, dask-operator"):
        select_images(["nope"])


def test_the_images_that_execute_kfp_runs_are_built_only_when_named() -> None:
    assert not {i.name for i in KFP_EXEC_IMAGES} & {i.name for i in select_images([])}
    assert [i.name for i in select_images(["mlmd", "trainer", "kfp-driver"])] == ["trainer", "kfp-driver", "mlmd"]
    assert all(i.generated_context for i in KFP_EXEC_IMAGES if i.name != "mlmd")
