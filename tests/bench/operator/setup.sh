#!/usr/bin/env bash
# The operator image's Python environment, for the memory benchmark (issue 16, P2): the packages
# operator/Dockerfile installs (uv sync --package sextant-operator --no-dev, from uv.lock), editable so it runs
# this checkout's code. The development venv has more: kopf imports kubernetes_asyncio and pykube whenever they
# are installed (dask-kubernetes brings the first), 40 MiB more for any kopf operator, which no user's pod has.
# Idempotent. Used by `make bench` before `pytest -m bench tests/bench`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
VENV="${SEXTANT_OPERATOR_VENV:-$HOME/.cache/sextant/bench/operator-venv}"
UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$VENV" \
  uv sync --quiet --frozen --no-dev --package sextant-operator --python python3.11
"$VENV/bin/python" -c "import sextant_operator.main, sys; assert 'kubernetes_asyncio' not in sys.modules"
echo "[bench/operator] the operator image's packages at $VENV"
