#!/usr/bin/env bash
# MM-Vet, as LLaVA-1.5's mmvet.sh, with SparseVLM v1 at its defaults (scale 13.5, bias 0; the seed
# has no preset here, so the tokens kept follow each prompt, as every answer records;
# --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/mmvet.sh [model_vqa arguments...]
# Reads $DATA_ROOT/mm-vet/{llava-mm-vet.jsonl, images/, mm-vet.json}, writes free-form answers
# (up to 1024 tokens) to $DATA_ROOT/mm-vet/answers/$CKPT.jsonl and MM-Vet's results file
# $DATA_ROOT/mm-vet/results/$CKPT.json (scripts/convert_mmvet_for_eval.py). MM-Vet is graded by
# an LLM judge: if one is configured (LLAVA_JUDGE_BASE_URL / LLAVA_JUDGE_API_KEY, or
# OPENAI_BASE_URL / OPENAI_API_KEY; JUDGE=0 skips it), llava.eval.eval_mmvet grades the results
# and prints MM-Vet's scores (`total` is the published number), writing the grade and score files
# beside the results; otherwise it says how to grade them.
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), JUDGE,
# LLAVA_JUDGE_MODEL. Examples:
#   SPARSE=0 bash scripts/v1_5/eval/mmvet.sh                   # dense baseline
#   bash scripts/v1_5/eval/mmvet.sh --sparse-version v2 --retained-tokens 64
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init mmvet 13.5 0 "$@"
MMVET=$DATA_ROOT/mm-vet
no_scores_json "the judge's scores go to $MMVET/results/"
require_data mm-vet "$MMVET/llava-mm-vet.jsonl" "$MMVET/images/" "$MMVET/mm-vet.json"

ANSWERS=$MMVET/answers/$CKPT.jsonl
run_generator llava.eval.model_vqa "$MMVET/llava-mm-vet.jsonl" "$MMVET/images" "$ANSWERS"

mkdir -p "$MMVET/results"
"$PYTHON" "$REPO/scripts/convert_mmvet_for_eval.py" --src "$ANSWERS" --dst "$MMVET/results/$CKPT.json"
GRADE=("$PYTHON" -m llava.eval.eval_mmvet --mmvet_path "$MMVET" --result_file "$MMVET/results/$CKPT.json")
if judge_configured; then
    "${GRADE[@]}"
else
    echo "$BENCH: the answers are ready for the judge: $MMVET/results/$CKPT.json"
    echo "  No LLM judge is configured (or JUDGE=0), so they are not graded. To grade them:"
    echo "    $(printf '%q ' "${GRADE[@]}")"
    judge_help
    echo "  Or upload the file to MM-Vet's online evaluator"
    echo "  (https://huggingface.co/spaces/whyu/MM-Vet_Evaluator)."
fi
