#!/usr/bin/env bash
# The dense baseline (no pruning) of one benchmark: the same as SPARSE=0 bash <bench>.sh.
#   bash scripts/v1_5/eval/dense.sh BENCH [answer generator arguments...]
# BENCH: pope, mme, textvqa, gqa, sqa, mmbench, mmbench_cn, vqav2, vizwiz, seed, mmvet,
# llavabench. Answers are named <model>-dense, beside the pruned ones.
set -euo pipefail
BENCHMARKS="pope|mme|textvqa|gqa|sqa|mmbench|mmbench_cn|vqav2|vizwiz|seed|mmvet|llavabench"
bench=${1:-}
if [[ ! $bench =~ ^($BENCHMARKS)$ ]]; then
    echo "usage: bash scripts/v1_5/eval/dense.sh $BENCHMARKS [answer generator arguments...]" >&2
    exit 2
fi
shift
SPARSE=0 exec bash "$(dirname "${BASH_SOURCE[0]}")/$bench.sh" "$@"
