#!/usr/bin/env bash
# MMBench-CN (dev 20231003), as LLaVA-1.5's mmbench_cn.sh, with SparseVLM v1 at its defaults (scale
# 13.5, bias 0; the seed has no preset here, so the tokens kept follow each prompt, as every answer
# records; --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/mmbench_cn.sh [model_vqa_mmbench arguments...]
# Reads $DATA_ROOT/mmbench_cn/mmbench_dev_cn_20231003.tsv (images inside), asks in Chinese
# (--lang cn), writes $DATA_ROOT/mmbench_cn/answers/mmbench_dev_cn_20231003/$CKPT.jsonl and the
# server's upload $DATA_ROOT/mmbench_cn/answers_upload/mmbench_dev_cn_20231003/$CKPT.xlsx (LLaVA's
# script creates mmbench/answers_upload/... but writes to mmbench_cn/...: here the upload goes
# where it is written), then prints the dev split's CircularEval score, computed offline.
# One process, as LLaVA's (several GPUs in CUDA_VISIBLE_DEVICES: the model is spread over them).
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), SCORES_JSON.
# Examples:
#   SPARSE=0 bash scripts/v1_5/eval/mmbench_cn.sh              # dense baseline
#   bash scripts/v1_5/eval/mmbench_cn.sh --pruning-method fastv --retained-tokens 128
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init mmbench_cn 13.5 0 "$@"
MMB=$DATA_ROOT/mmbench_cn
SPLIT=mmbench_dev_cn_20231003
require_data mmbench_cn "$MMB/$SPLIT.tsv"

run_generator llava.eval.model_vqa_mmbench "$MMB/$SPLIT.tsv" "" "$MMB/answers/$SPLIT/$CKPT.jsonl" \
    --lang cn --single-pred-prompt

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
