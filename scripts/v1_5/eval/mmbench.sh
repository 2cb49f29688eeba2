#!/usr/bin/env bash
# MMBench (en, dev 20230712), as LLaVA-1.5's mmbench.sh, with SparseVLM v1 at its defaults (scale
# 13.5, bias 0; the seed has no preset here, so the tokens kept follow each prompt, as every answer
# records; --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/mmbench.sh [model_vqa_mmbench arguments...]
# Reads $DATA_ROOT/mmbench/mmbench_dev_20230712.tsv (images inside), writes
# $DATA_ROOT/mmbench/answers/mmbench_dev_20230712/$CKPT.jsonl, the server's upload
# $DATA_ROOT/mmbench/answers_upload/mmbench_dev_20230712/$CKPT.xlsx
# (scripts/convert_mmbench_for_submission.py), then prints the dev split's CircularEval score,
# computed offline as the MMBench server does (the published number).
# One process, as LLaVA's (several GPUs in CUDA_VISIBLE_DEVICES: the model is spread over them).
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), SCORES_JSON.
# Examples:
#   SPARSE=0 bash scripts/v1_5/eval/mmbench.sh                 # dense baseline
#   bash scripts/v1_5/eval/mmbench.sh --sparse-version v1.5 --retained-tokens 128
#   bash scripts/v1_5/eval/mmbench.sh --pruning-method visionzip --retained-tokens 64
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init mmbench 13.5 0 "$@"
MMB=$DATA_ROOT/mmbench
SPLIT=mmbench_dev_20230712
require_data mmbench "$MMB/$SPLIT.tsv"

run_generator llava.eval.model_vqa_mmbench "$MMB/$SPLIT.tsv" "" "$MMB/answers/$SPLIT/$CKPT.jsonl" \
    --single-pred-prompt

mkdir -p "$MMB/answers_upload/$SPLIT"
"$PYTHON" "$REPO/scripts/convert_mmbench_for_submission.py" \
    --annotation-file "$MMB/$SPLIT.tsv" \
    --result-dir "$MMB/answers/$SPLIT" \
    --upload-dir "$MMB/answers_upload/$SPLIT" \
    --experiment "$CKPT"
echo "$BENCH: upload file for the MMBench server: $MMB/answers_upload/$SPLIT/$CKPT.xlsx"
"$PYTHON" -m llava.eval.eval_mmbench \
    --annotation-file "$MMB/$SPLIT.tsv" \
    --result-file "$MMB/answers/$SPLIT/$CKPT.jsonl" \
    "${SCORE_ARGS[@]}"
