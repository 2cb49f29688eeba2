#!/usr/bin/env bash
# LLaVA-Bench (In-the-Wild), as LLaVA-1.5's llavabench.sh, with SparseVLM v1 at its defaults (scale
# 13.5, bias 0; the seed has no preset here, so the tokens kept follow each prompt, as every answer
# records; --sparse-version v1.5 --retained-tokens N or another method for a fixed budget):
#   bash scripts/v1_5/eval/llavabench.sh [model_vqa arguments...]
# Reads $DATA_ROOT/llava-bench-in-the-wild/{questions.jsonl, images/, context.jsonl,
# answers_gpt4.jsonl}, writes free-form answers (up to 1024 tokens) to
# $DATA_ROOT/llava-bench-in-the-wild/answers/$CKPT.jsonl. LLaVA-Bench is scored by an LLM judge:
# if one is configured (LLAVA_JUDGE_BASE_URL / LLAVA_JUDGE_API_KEY, or OPENAI_BASE_URL /
# OPENAI_API_KEY; JUDGE=0 skips it), eval_gpt_review_bench.py reviews the answers against GPT-4's
# into reviews/$CKPT.jsonl with LLaVA's rule file (RULE, default llava/eval/table/rule.json of
# this repository), and summarize_gpt_review.py prints the relative scores (the "all" line is the
# published number); otherwise it says how to judge them.
# Environment (see common.sh): MODEL_PATH (default liuhaotian/llava-v1.5-7b), MODEL_BASE,
# DATA_ROOT (default ./playground/data/eval), CKPT, SCALE, BIAS, SPARSE=0 (dense), JUDGE, RULE,
# LLAVA_JUDGE_MODEL. Examples:
#   SPARSE=0 bash scripts/v1_5/eval/llavabench.sh              # dense baseline
#   bash scripts/v1_5/eval/llavabench.sh --pruning-method fastv --retained-tokens 64
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

eval_init llavabench 13.5 0 "$@"
BENCH_DIR=$DATA_ROOT/llava-bench-in-the-wild
RULE=${RULE:-$REPO/llava/eval/table/rule.json}
no_scores_json "summarize_gpt_review.py prints the scores"
require_data llava-bench-in-the-wild "$BENCH_DIR/questions.jsonl" "$BENCH_DIR/images/" \
    "$BENCH_DIR/context.jsonl" "$BENCH_DIR/answers_gpt4.jsonl"
if judge_configured && [[ ! -f $RULE ]]; then
    die "RULE: the judge's rule file $RULE is not there; LLaVA's is llava/eval/table/rule.json" \
        "of https://github.com/haotian-liu/LLaVA"
fi

ANSWERS=$BENCH_DIR/answers/$CKPT.jsonl
run_generator llava.eval.model_vqa "$BENCH_DIR/questions.jsonl" "$BENCH_DIR/images" "$ANSWERS"

REVIEWS=$BENCH_DIR/reviews/$CKPT.jsonl
REVIEW=("$PYTHON" -m llava.eval.eval_gpt_review_bench
    --question "$BENCH_DIR/questions.jsonl"
    --context "$BENCH_DIR/context.jsonl"
    --rule "$RULE"
    --answer-list "$BENCH_DIR/answers_gpt4.jsonl" "$ANSWERS"
    --output "$REVIEWS")
SUMMARY=("$PYTHON" -m llava.eval.summarize_gpt_review -f "$REVIEWS")
if judge_configured; then
    mkdir -p "$BENCH_DIR/reviews"
    "${REVIEW[@]}"
    "${SUMMARY[@]}"
else
    echo "$BENCH: the answers are ready for the judge: $ANSWERS"
    echo "  No LLM judge is configured (or JUDGE=0), so they are not reviewed. To review them:"
    echo "    $(printf '%q ' "${REVIEW[@]}")"
    echo "    $(printf '%q ' "${SUMMARY[@]}")"
    judge_help
fi
