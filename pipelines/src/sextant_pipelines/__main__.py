"""`python -m sextant_pipelines` runs the container entrypoint."""

from sextant_pipelines.entrypoint import main

raise SystemExit(main())
