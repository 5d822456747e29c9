#!/usr/bin/env bash
# Tools for the serving benchmarks (idempotent, pinned): wrk and nginx from Debian, MLServer in its own venv
# (its dependencies conflict with BentoML's, so it never shares the workspace venv).
set -euo pipefail
cd "$(dirname "$0")/../../.."

MLSERVER_VERSION=1.7.1
VENV=.venv-bench-mlserver
SKLEARN_VERSION=$(.venv/bin/python -c 'import sklearn; print(sklearn.__version__)')

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || need_apt+=(nginx-light)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# uvloop 0.22 removed the implicit event loop that MLServer 1.7's inference workers ask for at start-up.
UVLOOP_PIN="uvloop<0.22"
stamp="$VENV/.sextant-bench-$MLSERVER_VERSION-$SKLEARN_VERSION-uvloop021"
if [ ! -f "$stamp" ]; then
    rm -rf "$VENV"
    UV_PYTHON_DOWNLOADS=never uv venv --quiet --python 3.11 "$VENV"
    # scikit-learn pinned to the workspace's version so both servers unpickle the very same model files.
    UV_PYTHON_DOWNLOADS=never uv pip install --quiet --python "$VENV/bin/python" \
        "mlserver==$MLSERVER_VERSION" "mlserver-sklearn==$MLSERVER_VERSION" "scikit-learn==$SKLEARN_VERSION" "$UVLOOP_PIN"
    touch "$stamp"
fi
"$VENV/bin/mlserver" --version
wrk --version 2>&1 | head -1 || true
