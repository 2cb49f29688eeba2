"""MM-Vet's grader, through the judge: the evaluator's prompt and settings, its score parsing and
re-asks, its runs, and its resume from the grade file (yuweihao/MM-Vet c7ff270,
mm-vet_evaluator.py; same rules as 7d717c2).

One chat request per sample and run: the few-shot instruction below, a newline, then
`question | answer (" <AND> ", " <OR> " spaced) | prediction | ` (the last cell left for the
judge), max_tokens 3, temperature 0. The reply's text up to its first space, stripped, must be a
number in [0, 1]; otherwise the request is sent again with "\\nPredict the correctness of the
answer (digit): " appended, at the same temperature, which then rises by 0.5 after each re-ask
(0, 0, 0.5, 1.0, 1.5, 2.0). When the fifth re-ask's reply arrives the score is 0.0 without reading
it. The grade file keeps, per sample and run, the answering model, the parsed text (or the last
unparsed reply) and the score; it is rewritten after every sample, and grading resumes from it:
runs are completed in order, one run over all samples at a time. Nothing here prints.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from llava.benchmarks.judge import JudgeClient
from llava.benchmarks.mmvet import MMVetMetadata

# The evaluator's default judge; LLaVA's released grades were made with `--gpt_model gpt-4`.
OFFICIAL_JUDGE_MODEL = "gpt-4-0613"
MAX_TOKENS = 3
REASK_SUFFIX = "\nPredict the correctness of the answer (digit): "
REASK_TEMPERATURE_STEP = 0.5
MAX_TRIES = 5  # the score is 0.0 once the reply to the fifth re-ask (the sixth request) is in
# The evaluator's instruction and few-shot table, verbatim: the judge must see exactly this.
PROMPT = "\n".join(
    (
        "Compare the ground truth and prediction from AI models, to give a correctness score "
        "for the prediction. <AND> in the ground truth means it is totally right only when all "
        "elements in the ground truth are present in the prediction, and <OR> means it is "
        "totally right when any one element in the ground truth is present in the prediction. "
        "The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, "
        "0.9, or 1.0 (totally right). Just complete the last space of the correctness score.",
        "",
        "Question | Ground truth | Prediction | Correctness",
        "--- | --- | --- | ---",
        "What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0",
        "What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5",
        "What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5",
        "What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5",
        "What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0",
        "Can you explain this meme? | This meme is poking fun at the fact that the names of the "
        "countries Iceland and Greenland are misleading. Despite its name, Iceland is known for "
        "its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The "
        "meme is saying that the person has trust issues because the names of these countries "
        "do not accurately represent their landscapes. | The meme talks about Iceland and "
        "Greenland. It's pointing out that despite their names, Iceland is not very icy and "
        "Greenland isn't very green. | 0.4",
        "Can you explain this meme? | This meme is poking fun at the fact that the names of the "
        "countries Iceland and Greenland are misleading. Despite its name, Iceland is known for "
        "its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The "
        "meme is saying that the person has trust issues because the names of these countries "
        "do not accurately represent their landscapes. | The meme is using humor to point out "
        "the misleading nature of Iceland's and Greenland's names. Iceland, despite its name, "
        "has lush green landscapes while Greenland is mostly covered in ice and snow. The text "
        "'This is why I have trust issues' is a playful way to suggest that these "
        "contradictions can lead to distrust or confusion. The humor in this meme is derived "
        "from the unexpected contrast between the names of the countries and their actual "
        "physical characteristics. | 1.0",
        "",
    )
)


def grading_prompt(question: str, answer: str, prediction: str) -> str:
    spaced = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    return PROMPT + "\n" + " | ".join([question, spaced, prediction, ""])


def parse_grade(content: str) -> float | None:
    """The grade in a reply: its text up to the first space, stripped, as a float in [0, 1]."""
    try:
        score = float(content.split(" ")[0].strip())
    except ValueError:
        return None
    # "nan" passes the evaluator's range test and would turn every mean into nan: re-ask.
    return score if 0.0 <= score <= 1.0 and not math.isnan(score) else None


@dataclass(frozen=True)
class Grade:
    model: str  # the model the endpoint says answered
    content: str  # the parsed text, or the last reply when none parsed
    score: float


def grade_sample(
    client: JudgeClient,
    model: str,
    sample: Mapping[str, object],
    prediction: str,
    run: int,
) -> Grade:
    """One sample's grade for one run, re-asking as the evaluator does."""
    prompt = grading_prompt(str(sample["question"]), str(sample["answer"]), prediction)
    temperature, tries = 0.0, 1
    judgement = _ask(client, prompt, model, temperature, run)
    while True:
        text = judgement.content.split(" ")[0].strip()
        score = parse_grade(judgement.content)
        if score is not None:
            return Grade(judgement.model, text, score)
        judgement = _ask(client, prompt + REASK_SUFFIX, model, temperature, run)
        tries += 1
        temperature += REASK_TEMPERATURE_STEP
        if tries > MAX_TRIES:
            return Grade(judgement.model, judgement.content, 0.0)


def _ask(client: JudgeClient, prompt: str, model: str, temperature: float, run: int):
    messages = [{"role": "user", "content": prompt}]
    return client.complete(
        messages, model=model, temperature=temperature, max_tokens=MAX_TOKENS, sample=run
    )


def needs_more_runs(grades: Mapping[str, dict], metadata: MMVetMetadata, num_run: int) -> bool:
    return any(
        len(grades.get(sample_id, {}).get("score", [])) < num_run for sample_id in metadata.samples
    )


def grade_runs(
    client: JudgeClient,
    model: str,
    metadata: MMVetMetadata,
    results: Mapping[str, str],
    grades: dict[str, dict],
    num_run: int,
    save: Callable[[dict[str, dict]], None],
) -> dict[str, dict]:
    """Complete `grades` (a grade file's content, possibly partial) to `num_run` runs of every
    sample, calling `save` after each newly graded sample."""
    unanswered = [sample_id for sample_id in metadata.samples if sample_id not in results]
    if unanswered:
        raise ValueError(
            f"the results answer {len(metadata.samples) - len(unanswered)} of the "
            f"{len(metadata.samples)} MM-Vet samples (missing e.g. {unanswered[0]}); convert a "
            "complete answers file"
        )
    for run in range(num_run):
        for sample_id, sample in metadata.samples.items():
            record = grades.setdefault(sample_id, {"model": [], "content": [], "score": []})
            if len(record["score"]) > run:
                continue
            grade = grade_sample(client, model, sample, results[sample_id], run)
            record["model"].append(grade.model)
            record["content"].append(grade.content)
            record["score"].append(grade.score)
            save(grades)
    return grades


def grade_file_text(grades: Mapping[str, dict]) -> str:
    """The grade file as the evaluator writes it (`json.dump(..., indent=4)`)."""
    return json.dumps(dict(grades), indent=4)


def save_grade_file(path: str | Path, grades: Mapping[str, dict]) -> None:
    """Write the grade file whole or not at all, so an interruption never leaves half a file."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(grade_file_text(grades), encoding="utf-8")
    os.replace(partial, path)
