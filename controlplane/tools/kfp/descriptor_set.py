"""Writes a protobuf FileDescriptorSet from the serialized descriptors embedded in generated `_pb2.py` files.

KFP's backend needs Go code for `pipeline_spec.proto` and `kubernetes_executor_config.proto` at the release it
is built at, and the Go module proxy serves no matching version of the two generated submodules. The PyPI
wheels of that release carry the same descriptors (as `AddSerializedFile(b"...")` in their `_pb2.py`), from
which `protoc --descriptor_set_in` regenerates equivalent Go packages. Pure standard library: the files are read
with `ast`, never imported, so no protobuf runtime of any version is needed.

Usage: python3 descriptor_set.py OUT.pb FILE_pb2.py ...   (dependencies first or last: protoc resolves by name)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def serialized_descriptor(pb2_path: Path) -> bytes:
    """The bytes passed to AddSerializedFile in one generated module; raises ValueError if there are none."""
    for node in ast.walk(ast.parse(pb2_path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, bytes)
        ):
            return node.args[0].value
    raise ValueError(f"{pb2_path}: no AddSerializedFile(b'...') call; is it a generated _pb2.py?")


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def file_descriptor_set(descriptors: list[bytes]) -> bytes:
    """FileDescriptorSet { repeated FileDescriptorProto file = 1; } in wire format."""
    return b"".join(b"\x0a" + varint(len(d)) + d for d in descriptors)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, sources = Path(argv[1]), [Path(p) for p in argv[2:]]
    out.write_bytes(file_descriptor_set([serialized_descriptor(p) for p in sources]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
