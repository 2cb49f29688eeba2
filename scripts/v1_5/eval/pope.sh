#!/usr/bin/env bash
# POPE with SparseVLM v1, scale 9 / bias 6 (about 128 visual tokens), as LLaVA-1.5's pope.sh:
#   bash scripts/v1_5/eval/pope.sh [model_vqa_loader arguments...]
# Reads $DATA_ROOT/pope/{llava_pope_test.jsonl, coco/coco_pope_*.json, val2014/}, writes
# $DATA_ROOT/pope/answers/$CKPT.jsonl, then prints per-split accuracy / precision / recall / F1
# and the mean F1. Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b),
# MODEL_BASE, DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense),
# SCORES_JSON, CUDA_VISIBLE_DEVICES=0,1,... (one chunk per GPU). Examples:
#   SPARSE=0 bash scripts/v1_5/eval/pope.sh                    # dense baseline
#   bash scripts/v1_5/eval/pope.sh --sparse-version v1.5 --retained-tokens 128
#   bash scripts/v1_5/eval/pope.sh --pruning-method fastv --retained-tokens 64   # any method
#   CUDA_VISIBLE_DEVICES=0,1,2,3 bash scripts/v1_5/eval/pope.sh
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init pope 9 6 "$@"
POPE=$DATA_ROOT/pope
require_data pope "$POPE/llava_pope_test.jsonl" "$POPE/coco/coco_pope_adversarial.json" \
    "$POPE/coco/coco_pope_popular.json" "$POPE/coco/coco_pope_random.json" "$POPE/val2014/"

run_loader "$POPE/llava_pope_test.jsonl" "$POPE/val2014" "$POPE/answers/$CKPT.jsonl"

"$PYTHON" -m llava.eval.eval_pope \
    --annotation-dir "$POPE/coco" \
    --question-file "$POPE/llava_pope_test.jsonl" \
    --result-file "$POPE/answers/$CKPT.jsonl" \
    "${SCORE_ARGS[@]}"
