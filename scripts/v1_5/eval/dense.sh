#!/usr/bin/env bash
# The dense baseline (no pruning) of one benchmark: the same as SPARSE=0 bash <bench>.sh.
#   bash scripts/v1_5/eval/dense.sh pope|mme|textvqa [model_vqa_loader arguments...]
# Answers go to <bench>/answers/<model>-dense.jsonl, beside the sparse ones.
set -euo pipefail
case ${1:-} in
    pope | mme | textvqa) ;;
    *)
        echo "usage: bash scripts/v1_5/eval/dense.sh pope|mme|textvqa [model_vqa_loader arguments...]" >&2
        exit 2 ;;
esac
bench=$1
shift
SPARSE=0 exec bash "$(dirname "${BASH_SOURCE[0]}")/$bench.sh" "$@"
