#!/usr/bin/env bash
# ScienceQA-IMG (test), as LLaVA-1.5's sqa.sh, with SparseVLM v1 at its defaults (scale 13.5, bias
# 0; the seed has no preset here, so the tokens kept follow each prompt, as every answer records;
# --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/sqa.sh [model_vqa_science arguments...]
# Reads $DATA_ROOT/scienceqa/{llava_test_CQM-A.json, images/test/, pid_splits.json,
# problems.json}, writes $DATA_ROOT/scienceqa/answers/$CKPT.jsonl (questions without an image
# are asked text-only and not pruned), then scores it with eval_science_qa (IMG-Accuracy is the
# published number), writing answers/${CKPT}_output.jsonl and answers/${CKPT}_result.json.
# One process, as LLaVA's (several GPUs in CUDA_VISIBLE_DEVICES: the model is spread over them).
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense). Examples:
#   SPARSE=0 bash scripts/v1_5/eval/sqa.sh                     # dense baseline
#   bash scripts/v1_5/eval/sqa.sh --sparse-version v2 --retained-tokens 128
#   bash scripts/v1_5/eval/sqa.sh --pruning-method pdrop --retained-tokens 64
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init sqa 13.5 0 "$@"
SQA=$DATA_ROOT/scienceqa
no_scores_json "the scorer writes its results to $SQA/answers/${CKPT}_result.json"
require_data scienceqa "$SQA/llava_test_CQM-A.json" "$SQA/images/test/" \
    "$SQA/pid_splits.json" "$SQA/problems.json"

ANSWERS=$SQA/answers/$CKPT.jsonl
run_generator llava.eval.model_vqa_science "$SQA/llava_test_CQM-A.json" "$SQA/images/test" \
    "$ANSWERS" --single-pred-prompt

"$PYTHON" -m llava.eval.eval_science_qa \
    --base-dir "$SQA" \
    --result-file "$ANSWERS" \
    --output-file "$SQA/answers/${CKPT}_output.jsonl" \
    --output-result "$SQA/answers/${CKPT}_result.json"
