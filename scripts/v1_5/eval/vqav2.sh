#!/usr/bin/env bash
# VQAv2 (test-dev 2015), as LLaVA-1.5's vqav2.sh, with SparseVLM v1 at its defaults (scale 13.5,
# bias 0; the seed has no preset here, so the tokens kept follow each prompt, as every answer
# records; --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/vqav2.sh [model_vqa_loader arguments...]
# Reads $DATA_ROOT/vqav2/{llava_vqav2_mscoco_test-dev2015.jsonl, llava_vqav2_mscoco_test2015.jsonl,
# test2015/}, writes $DATA_ROOT/vqav2/answers/llava_vqav2_mscoco_test-dev2015/$CKPT/merge.jsonl
# (chunks N_i.jsonl beside it) and the EvalAI upload
# $DATA_ROOT/vqav2/answers_upload/llava_vqav2_mscoco_test-dev2015/$CKPT.json
# (scripts/convert_vqav2_for_submission.py), and checks it. The test-dev answers are hidden: the
# published number comes from EvalAI. When the answered split's answers are public, in the
# official formats (VQAV2_ANNOTATIONS and VQAV2_QUESTIONS; default: the synthetic stand-in's
# synthetic_test-dev2015_{annotations,questions}.json), it also prints the VQA accuracy the
# server would give (LLaVA's conversion, then the official evaluation).
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), SCORES_JSON
# (with public answers), VQAV2_ANNOTATIONS, VQAV2_QUESTIONS, CUDA_VISIBLE_DEVICES=0,1,... (one
# chunk per GPU). Examples:
#   SPARSE=0 bash scripts/v1_5/eval/vqav2.sh                   # dense baseline
#   bash scripts/v1_5/eval/vqav2.sh --pruning-method dart --retained-tokens 128
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 bash scripts/v1_5/eval/vqav2.sh
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init vqav2 13.5 0 "$@"
VQAV2=$DATA_ROOT/vqav2
SPLIT=llava_vqav2_mscoco_test-dev2015
ANNOTATIONS=${VQAV2_ANNOTATIONS:-$VQAV2/synthetic_test-dev2015_annotations.json}
QUESTIONS=${VQAV2_QUESTIONS:-$VQAV2/synthetic_test-dev2015_questions.json}
require_data vqav2 "$VQAV2/$SPLIT.jsonl" "$VQAV2/llava_vqav2_mscoco_test2015.jsonl" \
    "$VQAV2/test2015/"
PUBLIC=0
[[ -f $ANNOTATIONS && -f $QUESTIONS ]] && PUBLIC=1
if ((PUBLIC == 0)) && [[ -n ${VQAV2_ANNOTATIONS:-}${VQAV2_QUESTIONS:-}${SCORES_JSON:-} ]]; then
    die "no public answers to score with: $ANNOTATIONS or $QUESTIONS not found" \
        "(VQAV2_ANNOTATIONS, VQAV2_QUESTIONS: the official-format files of the answered split)"
fi

run_loader "$VQAV2/$SPLIT.jsonl" "$VQAV2/test2015" "$VQAV2/answers/$SPLIT/$CKPT/merge.jsonl"

UPLOAD=$VQAV2/answers_upload/$SPLIT/$CKPT.json
"$PYTHON" "$REPO/scripts/convert_vqav2_for_submission.py" \
    --dir "$VQAV2" --split "$SPLIT" --ckpt "$CKPT"
"$PYTHON" -m llava.eval.eval_vqav2 \
    --upload-file "$UPLOAD" --test-questions "$VQAV2/llava_vqav2_mscoco_test2015.jsonl"
if ((PUBLIC)); then
    echo "$BENCH: VQA accuracy on the public answers of $ANNOTATIONS:"
    "$PYTHON" -m llava.eval.eval_vqav2 \
        --annotation-file "$ANNOTATIONS" \
        --question-file "$QUESTIONS" \
        --result-file "$VQAV2/answers/$SPLIT/$CKPT/merge.jsonl" \
        "${SCORE_ARGS[@]}"
else
    echo "$BENCH: the test-dev answers are hidden: submit $UPLOAD to EvalAI"
    echo "  (https://eval.ai/web/challenges/challenge-page/830/my-submission, phase test-dev)."
fi
