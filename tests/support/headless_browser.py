"""Headless Chromium (Debian's package, `make deps`) rendering a page the way a person opens it: the DOM after
the browser parsed it, and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# Root in a container has no user namespace for Chromium's sandbox; the page is our own file.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars")


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is missing: `make deps` installs Debian's chromium")
    return found


def rendered_dom(page: Path, timeout: float = 120) -> str:
    """The DOM Chromium built from `page` (its own serialisation, not our HTML text)."""
    proc = subprocess.run([chromium(), *FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=timeout, check=True)
    return proc.stdout


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 2600, timeout: float = 120) -> Path:
    subprocess.run([chromium(), *FLAGS, f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri()],
                   capture_output=True, text=True, timeout=timeout, check=True)
    return out
