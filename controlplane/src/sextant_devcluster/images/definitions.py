"""The images the project builds and the Debian base they start from, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field

REGISTRY = "sextant.local"
BASE_NAME = "base"


@dataclass(frozen=True)
class BaseDefinition:
    """A Debian root filesystem made by debootstrap; `recipe` changes when the way it is made changes."""

    suite: str
    mirror: str
    variant: str
    packages: tuple[str, ...]
    recipe: str = "2"  # 2: neutral /etc/hosts, hostname and resolv.conf


@dataclass(frozen=True)
class ImageDefinition:
    """One image: a Dockerfile (path from the repository root), its target stage and build arguments.

    `on_base`: the Dockerfile takes the Debian base as `BASE_IMAGE`. `generated_context`: the build context is
    made by the builder (the pause or versitygw binary), not the repository root.
    """

    name: str
    dockerfile: str
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = field(default=())
    on_base: bool = True
    generated_context: bool = False

    @property
    def ignorefile(self) -> str:
        """Docker's per-Dockerfile ignore file (`<Dockerfile>.dockerignore`), which buildah takes as --ignorefile."""
        return self.dockerfile + ".dockerignore"


BASE = BaseDefinition(
    suite="bookworm",
    mirror="http://deb.debian.org/debian",
    variant="minbase",
    packages=("python3", "python3-venv", "ca-certificates"),
)

IMAGES: tuple[ImageDefinition, ...] = (
    ImageDefinition("pause", "controlplane/images/pause/Dockerfile", on_base=False, generated_context=True),
    ImageDefinition("operator", "operator/Dockerfile"),
    ImageDefinition("trainer", "pipelines/Dockerfile"),
    ImageDefinition("server", "services/Dockerfile", target="server"),
    ImageDefinition("router", "services/Dockerfile", target="router"),
    ImageDefinition("objectstore", "controlplane/objectstore/Dockerfile", generated_context=True),
    ImageDefinition("dask-operator", "controlplane/dask-operator/Dockerfile"),
)

#: What executes a Kubeflow Pipelines run on the real node (docs/pipelines.md; `make kfp-exec-images`): Argo's
#: workflow controller and executor and KFP's driver and launcher (binaries from `make kfp-exec-tools`), and the
#: ML Metadata service. Built only when named, never by a plain `make images`.
KFP_EXEC_BINARIES = {"argo-controller": "workflow-controller", "argoexec": "argoexec", "kfp-driver": "driver",
                     "kfp-launcher": "launcher-v2"}
KFP_EXEC_IMAGES: tuple[ImageDefinition, ...] = (
    *(ImageDefinition(name, "controlplane/images/kfp-exec/Dockerfile", on_base=False, generated_context=True)
      for name in KFP_EXEC_BINARIES),
    ImageDefinition("mlmd", "controlplane/images/mlmd/Dockerfile"),
)


def image_ref(name: str, tag: str) -> str:
    """The local reference of an image: `sextant.local/<name>:<tag>`."""
    return f"{REGISTRY}/{name}:{tag}"


def select_images(names: list[str], images: tuple[ImageDefinition, ...] = IMAGES,
                  optional: tuple[ImageDefinition, ...] = KFP_EXEC_IMAGES) -> tuple[ImageDefinition, ...]:
    """The definitions named (the default set `images` when none are; `optional` ones only by name), in build
    order. Raises ValueError naming an unknown image."""
    if not names:
        return images
    known = {image.name for image in (*images, *optional)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown image {', '.join(unknown)}: the images are {', '.join(sorted(known))}")
    return tuple(image for image in (*images, *optional) if image.name in names)
