#!/usr/bin/env bash
# Create ./.venv (if needed) and install mmmtl with its runtime and test
# requirements. Idempotent: re-installs only when requirements or setup.py
# changed. Source it (`. tools/setup_env.sh`) to stay in the venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON_BIN="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "[mmmtl] creating virtual environment in $ROOT/.venv"
    "$PYTHON_BIN" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
STAMP=.venv/.mmmtl-install-stamp
WANT="$(cat setup.py requirements/*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[mmmtl] installing requirements (about 1-2 minutes)"
    python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    python -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt \
        2>&1 | grep -v '^WARNING: Location' || true
    python -m pip install -q --no-deps -e . 2>&1 | grep -v '^WARNING: Location' || true
    python -c "import mmmtl, torch, mmseg, timm, pytest" \
        || { echo "[mmmtl] installation failed" >&2; exit 1; }
    echo "$WANT" > "$STAMP"
fi
