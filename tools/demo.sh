#!/usr/bin/env bash
# Set up the environment and run the demo: generate the synthetic dataset,
# train VMT-Adapter (Swin-T) on CPU, evaluate, and print per-task metrics and
# delta_m (untrained vs trained), then re-test the saved checkpoint.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$ROOT/tools/setup_env.sh"
cd "$ROOT"
python tools/demo.py "$@"
