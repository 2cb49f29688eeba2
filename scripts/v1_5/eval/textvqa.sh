#!/usr/bin/env bash
# TextVQA with SparseVLM v1, scale 0.8 / bias 0 (about 64 visual tokens), as LLaVA-1.5's textvqa.sh:
#   bash scripts/v1_5/eval/textvqa.sh [model_vqa_loader arguments...]
# Reads $DATA_ROOT/textvqa/{llava_textvqa_val_v051_ocr.jsonl, TextVQA_0.5.1_val.json,
# train_images/}, writes $DATA_ROOT/textvqa/answers/$CKPT.jsonl and prints the accuracy.
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), SCORES_JSON,
# CUDA_VISIBLE_DEVICES=0,1,... (one chunk per GPU). Examples:
#   SPARSE=0 bash scripts/v1_5/eval/textvqa.sh                 # dense baseline
#   bash scripts/v1_5/eval/textvqa.sh --sparse-version v1.5 --retained-tokens 64
#   bash scripts/v1_5/eval/textvqa.sh --pruning-method fastv --retained-tokens 64   # any method
#   CUDA_VISIBLE_DEVICES=0,1,2,3 bash scripts/v1_5/eval/textvqa.sh
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init textvqa 0.8 0 "$@"
TEXTVQA=$DATA_ROOT/textvqa
require_data textvqa "$TEXTVQA/llava_textvqa_val_v051_ocr.jsonl" \
    "$TEXTVQA/TextVQA_0.5.1_val.json" "$TEXTVQA/train_images/"

run_loader "$TEXTVQA/llava_textvqa_val_v051_ocr.jsonl" "$TEXTVQA/train_images" \
    "$TEXTVQA/answers/$CKPT.jsonl"

"$PYTHON" -m llava.eval.eval_textvqa \
    --annotation-file "$TEXTVQA/TextVQA_0.5.1_val.json" \
    --result-file "$TEXTVQA/answers/$CKPT.jsonl" \
    "${SCORE_ARGS[@]}"
