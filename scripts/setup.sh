#!/usr/bin/env bash
# Set up the environment the other scripts run in; sourced by scripts/test.sh and scripts/demo.sh.
#
# Uses the active virtual environment if there is one, else creates ./.venv. Installs
# torch==2.13.0 first (unless torch is already importable): a plain `torch` requirement would
# pull a multi-GB CUDA build onto a CPU-only machine. Then the project itself (editable). Later
# runs skip the install while pyproject.toml is unchanged (a stamp in the environment records it).
#   EXTRAS=test   also install the test extra (pytest, ruff)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -z "${VIRTUAL_ENV:-}" ]]; then
    if [[ ! -x "$repo/.venv/bin/python" ]]; then
        echo "setup: creating a virtual environment in $repo/.venv"
        python3 -m venv "$repo/.venv"
    fi
    # shellcheck disable=SC1091
    source "$repo/.venv/bin/activate"
fi

if ! python -c "import torch" 2>/dev/null; then
    echo "setup: installing torch==2.13.0 (CPU build; about a minute)"
    python -m pip install --progress-bar on "torch==2.13.0"
fi
spec="$repo"
[[ -n "${EXTRAS:-}" ]] && spec="$repo[$EXTRAS]"
stamp="$VIRTUAL_ENV/.llava-installed"
wanted="$(cat "$repo/pyproject.toml" <(echo "$spec") | sha256sum | cut -d' ' -f1)"
installed_here="$(python -c 'import llava, os; print(os.path.dirname(os.path.dirname(llava.__file__)))' 2>/dev/null || true)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" || "$installed_here" != "$repo" ]]; then
    echo "setup: installing this project and its dependencies into $VIRTUAL_ENV"
    python -m pip install --progress-bar on --editable "$spec"
    echo "$wanted" >"$stamp"
fi
