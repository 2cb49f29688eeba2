#!/usr/bin/env bash
# MME with SparseVLM v1, scale 13.5 / bias 0 (about 192 visual tokens), as LLaVA-1.5's mme.sh:
#   bash scripts/v1_5/eval/mme.sh [model_vqa_loader arguments...]
# Reads $DATA_ROOT/MME/{llava_mme.jsonl, MME_Benchmark_release_version/}, writes
# $DATA_ROOT/MME/answers/$CKPT.jsonl, prints acc / acc+ / score per category and the perception
# and cognition totals, and writes MME's eval_tool answers to $DATA_ROOT/MME/eval_tool/answers/$CKPT
# (what LLaVA's convert_answer_to_mme.py writes; MME's own tool then gives the same numbers:
# cd $DATA_ROOT/MME/eval_tool && python calculation.py --results_dir answers/$CKPT).
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), SCORES_JSON,
# CUDA_VISIBLE_DEVICES=0,1,... (one chunk per GPU). Examples:
#   SPARSE=0 bash scripts/v1_5/eval/mme.sh                     # dense baseline
#   bash scripts/v1_5/eval/mme.sh --sparse-version v2 --retained-tokens 192
#   bash scripts/v1_5/eval/mme.sh --pruning-method fastv --retained-tokens 64   # any method
#   CUDA_VISIBLE_DEVICES=0,1,2,3 bash scripts/v1_5/eval/mme.sh
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init MME 13.5 0 "$@"
MME=$DATA_ROOT/MME
require_data MME "$MME/llava_mme.jsonl" "$MME/MME_Benchmark_release_version/"

run_loader "$MME/llava_mme.jsonl" "$MME/MME_Benchmark_release_version" "$MME/answers/$CKPT.jsonl"

"$PYTHON" -m llava.eval.eval_mme \
    --mme-dir "$MME/MME_Benchmark_release_version" \
    --answers-file "$MME/answers/$CKPT.jsonl" \
    --experiment "$CKPT" \
    "${SCORE_ARGS[@]}"
