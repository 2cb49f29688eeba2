"""Review LLaVA-Bench answers with the judge, as LLaVA's script of the same name:
`python llava/eval/eval_gpt_review_bench.py --question questions.jsonl --context context.jsonl
--rule rule.json --answer-list answers_gpt4.jsonl answers/CKPT.jsonl --output reviews/CKPT.jsonl
[--max-tokens 1024]`.

One review line per question is appended to --output; when it already holds reviews, the
questions they cover are skipped (a rerun continues an interrupted one). The judge: an
OpenAI-compatible endpoint from LLAVA_JUDGE_BASE_URL / LLAVA_JUDGE_API_KEY (or OPENAI_BASE_URL /
OPENAI_API_KEY); LLAVA_JUDGE_MODEL replaces LLaVA's gpt-4-0314. Judgements are cached in
judge-cache/<output name> beside the output (--judge-cache to move it): a rerun never pays
twice, and another output file is another, independent review run (LLaVA's eval1/2/3).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python llava/eval/eval_gpt_review_bench.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llava.benchmarks.jsonl import read_json, read_jsonl  # noqa: E402
from llava.benchmarks.judge import (  # noqa: E402
    JudgeCache,
    JudgeClient,
    JudgeError,
    judge_config_from_env,
)
from llava.benchmarks.llavabench import (  # noqa: E402
    MAX_TOKENS,
    OFFICIAL_JUDGE_MODEL,
    SYSTEM_MESSAGE,
    TEMPERATURE,
    check_existing_reviews,
    review_items,
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="eval_gpt_review_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("-q", "--question", required=True, help="questions.jsonl")
    parser.add_argument("-c", "--context", required=True, help="context.jsonl (image captions)")
    parser.add_argument(
        "-a", "--answer-list", nargs="+", default=[], help="reference answers, model answers"
    )
    parser.add_argument("-r", "--rule", required=True, help="rule.json")
    parser.add_argument("-o", "--output", required=True, help="the review file (JSON lines)")
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=MAX_TOKENS,
        help="maximum number of tokens produced in the output",
    )
    parser.add_argument("--judge-cache", help="the judgement cache file (JSON lines)")
    args = parser.parse_args(argv)
    if len(args.answer_list) != 2:
        parser.error("--answer-list takes two files: the reference answers, then the model's")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    output = Path(args.output)
    cache_file = Path(args.judge_cache or output.parent / "judge-cache" / output.name)
    try:
        config = judge_config_from_env(os.environ)
        rules = read_json(args.rule, "rule file")
        items = review_items(
            read_jsonl(args.question, "question file"),
            read_jsonl(args.context, "context file"),
            read_jsonl(args.answer_list[0], "reference answers file"),
            read_jsonl(args.answer_list[1], "answers file"),
            rules,
            (args.question, *args.answer_list),
        )
        done = read_jsonl(output, "review file") if output.is_file() else []
        check_existing_reviews(done, items, output)
        client = JudgeClient(config, JudgeCache(cache_file))
        model = config.judge_model(OFFICIAL_JUDGE_MODEL)
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("a", encoding="utf-8") as reviews:
            for index in range(len(done), len(items)):
                item = items[index]
                messages = [
                    {"role": "system", "content": SYSTEM_MESSAGE},
                    {"role": "user", "content": item.content},
                ]
                judgement = client.complete(
                    messages, model=model, temperature=TEMPERATURE, max_tokens=args.max_tokens
                )
                record = item.record(index, judgement.content, judgement.model)
                reviews.write(json.dumps(record) + "\n")
                reviews.flush()
    except (ValueError, JudgeError) as err:
        print(f"eval_gpt_review_bench: error: {err}", file=sys.stderr)
        return 1
    print(
        f"{output}: {len(items) - len(done)} reviews written, {len(done)} already there; judge "
        f"{model}: {client.sent} requests sent, {client.cached} from the cache"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
