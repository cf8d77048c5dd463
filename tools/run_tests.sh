#!/usr/bin/env bash
# Set up the environment (tools/setup_env.sh) and run the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$ROOT/tools/setup_env.sh"
cd "$ROOT"
python -m pytest tests "$@"
