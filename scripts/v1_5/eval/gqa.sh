#!/usr/bin/env bash
# GQA (testdev-balanced), as LLaVA-1.5's gqa.sh, with SparseVLM v1 at its defaults (scale 13.5, bias
# 0; the seed has no preset here, so the tokens kept follow each prompt, as every answer records;
# --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/gqa.sh [model_vqa_loader arguments...]
# Reads $DATA_ROOT/gqa/{llava_gqa_testdev_balanced.jsonl, data/images/,
# data/testdev_balanced_questions.json}, writes
# $DATA_ROOT/gqa/answers/llava_gqa_testdev_balanced/$CKPT/merge.jsonl (chunks N_i.jsonl beside
# it), converts it to $DATA_ROOT/gqa/data/testdev_balanced_predictions.json
# (scripts/convert_gqa_for_eval.py) and prints GQA's eval.py metrics (Accuracy is GQA's number).
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), SCORES_JSON,
# CUDA_VISIBLE_DEVICES=0,1,... (one chunk per GPU). Examples:
#   SPARSE=0 bash scripts/v1_5/eval/gqa.sh                     # dense baseline
#   bash scripts/v1_5/eval/gqa.sh --sparse-version v1.5 --retained-tokens 64
#   bash scripts/v1_5/eval/gqa.sh --pruning-method fastv --retained-tokens 64
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 bash scripts/v1_5/eval/gqa.sh
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init gqa 13.5 0 "$@"
GQA=$DATA_ROOT/gqa
SPLIT=llava_gqa_testdev_balanced
require_data gqa "$GQA/$SPLIT.jsonl" "$GQA/data/images/" "$GQA/data/testdev_balanced_questions.json"

ANSWERS=$GQA/answers/$SPLIT/$CKPT/merge.jsonl
run_loader "$GQA/$SPLIT.jsonl" "$GQA/data/images" "$ANSWERS"

"$PYTHON" "$REPO/scripts/convert_gqa_for_eval.py" \
    --src "$ANSWERS" --dst "$GQA/data/testdev_balanced_predictions.json"
"$PYTHON" -m llava.eval.eval_gqa \
    --questions "$GQA/data/testdev_balanced_questions.json" \
    --predictions "$GQA/data/testdev_balanced_predictions.json" \
    "${SCORE_ARGS[@]}"
