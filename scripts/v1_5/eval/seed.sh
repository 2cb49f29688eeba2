#!/usr/bin/env bash
# SEED-Bench, as LLaVA-1.5's seed.sh, with SparseVLM v1 at its defaults (scale 13.5, bias 0; the
# seed has no preset here, so the tokens kept follow each prompt, as every answer records;
# --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/seed.sh [model_vqa_loader arguments...]
# Reads $DATA_ROOT/seed_bench/{llava-seed-bench.jsonl, SEED-Bench.json, SEED-Bench-image/,
# SEED-Bench-video-image/ (each video's middle frame)}, writes
# $DATA_ROOT/seed_bench/answers/$CKPT/merge.jsonl (chunks N_i.jsonl beside it), then
# scripts/convert_seed_for_submission.py prints the accuracy per question type, in total (MODEL_ZOO's
# "SEED") and on images (SEED-IMG), and writes the leaderboard upload
# $DATA_ROOT/seed_bench/answers_upload/$CKPT.jsonl.
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense),
# CUDA_VISIBLE_DEVICES=0,1,... (one chunk per GPU). Examples:
#   SPARSE=0 bash scripts/v1_5/eval/seed.sh                    # dense baseline
#   bash scripts/v1_5/eval/seed.sh --sparse-version v2 --retained-tokens 64
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 bash scripts/v1_5/eval/seed.sh
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init seed 13.5 0 "$@"
SEED=$DATA_ROOT/seed_bench
no_scores_json "convert_seed_for_submission.py prints the accuracies"
require_data seed_bench "$SEED/llava-seed-bench.jsonl" "$SEED/SEED-Bench.json" \
    "$SEED/SEED-Bench-image/" "$SEED/SEED-Bench-video-image/"

ANSWERS=$SEED/answers/$CKPT/merge.jsonl
run_loader "$SEED/llava-seed-bench.jsonl" "$SEED" "$ANSWERS"

"$PYTHON" "$REPO/scripts/convert_seed_for_submission.py" \
    --annotation-file "$SEED/SEED-Bench.json" \
    --result-file "$ANSWERS" \
    --result-upload-file "$SEED/answers_upload/$CKPT.jsonl"
