#!/usr/bin/env bash
# Benchmark tools for the pipelines area: FLAML in its own virtualenv (it must not enter uv.lock).
# Idempotent; pinned versions. Used by `make bench` before `pytest -m bench tests/bench`.
set -euo pipefail
VENV="${SEXTANT_FLAML_VENV:-$HOME/.cache/sextant/bench/flaml-2.7.0}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import flaml, lightgbm, xgboost, statsmodels, vega_datasets" 2>/dev/null; then
  echo "[bench/pipelines] FLAML venv ready at $VENV"
  exit 0
fi
export UV_PYTHON_DOWNLOADS=never
uv venv --quiet --python 3.11 "$VENV"
uv pip install --quiet --python "$VENV/bin/python" \
  "flaml[automl]==2.7.0" "scikit-learn==1.9.1" "pandas==3.1.1" "numpy==2.4.6" \
  "statsmodels==0.15.0" "vega-datasets==0.9.0"  # real datasets shipped inside their wheels (user-path bench)
"$VENV/bin/python" -c "import flaml; print('[bench/pipelines] FLAML', flaml.__version__, 'installed at $VENV')"
