#!/usr/bin/env bash
# Install what the tests need (see scripts/setup.sh) and run them: bash scripts/test.sh [pytest args]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS=test source "$repo/scripts/setup.sh"
cd "$repo"
python -m pytest "$@"
