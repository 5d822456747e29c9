"""Which build-context files an image copies: COPY/ADD sources filtered by the .dockerignore, as Docker reads them."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class IgnoreRule:
    """One .dockerignore line: a path pattern, or (with a leading !) an exception to the patterns above it."""

    regex: re.Pattern[str]
    negate: bool

    def matches(self, path: str) -> bool:
        """True when the pattern matches the path or one of its parent directories (Docker's rule)."""
        parts = path.split("/")
        return any(self.regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1))


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore glob as a regex: `**` crosses directories, `*` and `?` stay within one."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def parse_dockerignore(text: str) -> tuple[IgnoreRule, ...]:
    """The rules of a .dockerignore file, in order (the last rule matching a path decides)."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = normalise_path(line[1:] if negate else line)
        rules.append(IgnoreRule(pattern_regex(pattern), negate))
    return tuple(rules)


def is_ignored(path: str, rules: Sequence[IgnoreRule]) -> bool:
    """True when the .dockerignore rules keep `path` (relative, with /) out of the build context."""
    ignored = False
    for rule in rules:
        if rule.matches(path):
            ignored = not rule.negate
    return ignored


def normalise_path(path: str) -> str:
    """A context path without ./ prefixes or trailing slashes; the context root is `.`."""
    path = re.sub(r"^(\./)+", "", path.strip()).strip("/")
    return path or "."


def _instructions(dockerfile: str) -> Iterable[str]:
    """The Dockerfile's instructions with line continuations joined and comments dropped."""
    current = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        yield current + line
        current = ""
    if current:
        yield current


def copy_sources(dockerfile: str) -> tuple[str, ...]:
    """The build-context paths that COPY and ADD read (COPY --from=<stage> reads a stage, not the context)."""
    sources: list[str] = []
    for instruction in _instructions(dockerfile):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() not in {"COPY", "ADD"}:
            continue
        words = rest.split()
        flags = []
        while words and words[0].startswith("--"):
            flags.append(words.pop(0))
        if any(f.startswith("--from=") for f in flags):
            continue
        remainder = " ".join(words)
        operands: list[str] = json.loads(remainder) if remainder.startswith("[") else shlex.split(remainder)
        sources += [normalise_path(s) for s in operands[:-1]]
    return tuple(dict.fromkeys(sources))


def copied_files(candidates: Iterable[str], sources: Sequence[str], rules: Sequence[IgnoreRule]) -> tuple[str, ...]:
    """The candidate files (relative paths) that a COPY of `sources` puts into the image, sorted."""
    def under_a_source(path: str) -> bool:
        return any(s == "." or path == s or path.startswith(s + "/") for s in sources)

    return tuple(sorted(p for p in set(candidates) if under_a_source(p) and not is_ignored(p, rules)))
