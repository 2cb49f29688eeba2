#!/usr/bin/env bash
# VizWiz (test), as LLaVA-1.5's vizwiz.sh, with SparseVLM v1 at its defaults (scale 13.5, bias 0;
# the seed has no preset here, so the tokens kept follow each prompt, as every answer records;
# --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/vizwiz.sh [model_vqa_loader arguments...]
# Reads $DATA_ROOT/vizwiz/{llava_test.jsonl, test/}, writes $DATA_ROOT/vizwiz/answers/$CKPT.jsonl
# and the EvalAI upload $DATA_ROOT/vizwiz/answers_upload/$CKPT.json
# (scripts/convert_vizwiz_for_submission.py), and checks it. The test answers are hidden: the
# published number comes from EvalAI. When the answered questions' answers are public, in
# VizWiz's annotation format (VIZWIZ_ANNOTATIONS; default: the synthetic stand-in's
# synthetic_test_annotations.json), it also prints the VizWiz accuracy the server would give.
# One process, as LLaVA's (several GPUs in CUDA_VISIBLE_DEVICES: the model is spread over them).
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), SCORES_JSON
# (with public answers), VIZWIZ_ANNOTATIONS. Examples:
#   SPARSE=0 bash scripts/v1_5/eval/vizwiz.sh                  # dense baseline
#   bash scripts/v1_5/eval/vizwiz.sh --pruning-method fastv --retained-tokens 64
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init vizwiz 13.5 0 "$@"
VIZWIZ=$DATA_ROOT/vizwiz
ANNOTATIONS=${VIZWIZ_ANNOTATIONS:-$VIZWIZ/synthetic_test_annotations.json}
require_data vizwiz "$VIZWIZ/llava_test.jsonl" "$VIZWIZ/test/"
PUBLIC=0
[[ -f $ANNOTATIONS ]] && PUBLIC=1
if ((PUBLIC == 0)) && [[ -n ${VIZWIZ_ANNOTATIONS:-}${SCORES_JSON:-} ]]; then
    die "no public answers to score with: $ANNOTATIONS not found" \
        "(VIZWIZ_ANNOTATIONS: VizWiz-format annotations of the answered questions)"
fi

ANSWERS=$VIZWIZ/answers/$CKPT.jsonl
run_generator llava.eval.model_vqa_loader "$VIZWIZ/llava_test.jsonl" "$VIZWIZ/test" "$ANSWERS"

UPLOAD=$VIZWIZ/answers_upload/$CKPT.json
"$PYTHON" "$REPO/scripts/convert_vizwiz_for_submission.py" \
    --annotation-file "$VIZWIZ/llava_test.jsonl" \
    --result-file "$ANSWERS" \
    --result-upload-file "$UPLOAD"
"$PYTHON" -m llava.eval.eval_vizwiz --upload-file "$UPLOAD" --question-file "$VIZWIZ/llava_test.jsonl"
if ((PUBLIC)); then
    echo "$BENCH: VizWiz accuracy on the public answers of $ANNOTATIONS:"
    "$PYTHON" -m llava.eval.eval_vizwiz \
        --annotation-file "$ANNOTATIONS" \
        --question-file "$VIZWIZ/llava_test.jsonl" \
        --result-file "$ANSWERS" \
        "${SCORE_ARGS[@]}"
else
    echo "$BENCH: the test answers are hidden: submit $UPLOAD to EvalAI"
    echo "  (https://eval.ai/web/challenges/challenge-page/2185/my-submission)."
fi
