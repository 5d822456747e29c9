#!/usr/bin/env bash
# Evidently in its own virtualenv for the drift comparison (tests/bench/drift/test_drift_vs_evidently.py); it must
# not enter uv.lock. Idempotent; pinned versions (evidently 0.7.23 breaks on pandas 3: it imports a removed pandas
# internal, so pandas stays on 2.3). Used by `make bench` and `make bench-drift` before pytest.
set -euo pipefail
VENV="${SEXTANT_EVIDENTLY_VENV:-$HOME/.cache/sextant/bench/evidently-0.7.23}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import evidently, pyarrow" 2>/dev/null; then
  echo "[bench/drift] Evidently venv ready at $VENV"
  exit 0
fi
export UV_PYTHON_DOWNLOADS=never
uv venv --quiet --python 3.11 "$VENV"
uv pip install --quiet --python "$VENV/bin/python" \
  "evidently==0.7.23" "pandas==2.3.3" "numpy==2.4.6" "scipy==1.17.1" "scikit-learn==1.9.1" "pyarrow==26.0.1"
"$VENV/bin/python" -c "import evidently; print('[bench/drift] Evidently', evidently.__version__, 'installed at $VENV')"
