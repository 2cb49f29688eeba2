#!/usr/bin/env bash
# The main job: the shipped small LLaVA on the synthetic MME / POPE / TextVQA benchmarks, dense
# vs pruned, one table at the end (also saved under playground/results/demo/).
#   bash scripts/demo.sh [--methods dense,sparsevlm-64 ...]   (arguments go to llava.experiments.demo)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"
cd "$repo"
python -m llava.experiments.demo "$@"
