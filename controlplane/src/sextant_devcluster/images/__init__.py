"""Container images built without a registry or daemon: `python -m sextant_devcluster.images build`.

Other code reads the result through `load_index(Path("build/images.json"))` -> {name: ImageRef(name, ref, archive)}.
"""

from .index import INDEX_PATH, ImageRef, ImagesError, load_index

__all__ = ["INDEX_PATH", "ImageRef", "ImagesError", "load_index"]
