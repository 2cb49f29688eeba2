#!/usr/bin/env bash
# Set up the environment the other scripts run in; sourced by scripts/test.sh and scripts/demo.sh.
#
# Uses the active virtual environment if there is one, else creates ./.venv. Installs
# torch==2.13.0 first (unless torch is already importable): a plain `torch` requirement would
# pull a multi-GB CUDA build onto a CPU-only machine. Then the project itself (editable).
#   EXTRAS=test   also install the test extra (pytest, ruff)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -z "${VIRTUAL_ENV:-}" ]]; then
    if [[ ! -x "$repo/.venv/bin/python" ]]; then
        echo "creating a virtual environment in $repo/.venv"
        python3 -m venv "$repo/.venv"
    fi
    # shellcheck disable=SC1091
    source "$repo/.venv/bin/activate"
fi

if ! python -c "import torch" 2>/dev/null; then
    python -m pip install --quiet "torch==2.13.0"
fi
spec="$repo"
[[ -n "${EXTRAS:-}" ]] && spec="$repo[$EXTRAS]"
python -m pip install --quiet --editable "$spec"
