"""Allows `python -m sextant_operator`."""

from .main import main

raise SystemExit(main())
