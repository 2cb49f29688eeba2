"""The demo's tables: scores per method and benchmark over the shipped models (training seeds),
as mean and spread, and how the methods' ranking moves from seed to seed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Result:
    """One method (label) on one model: a score per benchmark and its token counts."""

    label: str
    model: str
    scores: dict[str, float | None]  # metric -> score (None: needs a judge)
    equivalent_tokens: float
    equivalent_tokens_input: float
    prefill_ms: float


@dataclass
class Row:
    """One method over every model: per metric the scores in model order."""

    label: str
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    equivalent_tokens: float = 0.0
    equivalent_tokens_input: float = 0.0
    prefill_ms: float = 0.0

    def mean(self, metric: str) -> float | None:
        values = [v for v in self.scores[metric] if v is not None]
        return statistics.mean(values) if values else None


def rows_of(results: list[Result], labels: list[str], metrics: list[str]) -> list[Row]:
    rows = []
    for label in labels:
        mine = [r for r in results if r.label == label]
        row = Row(label, {m: [r.scores.get(m) for r in mine] for m in metrics})
        row.equivalent_tokens = statistics.mean(r.equivalent_tokens for r in mine)
        row.equivalent_tokens_input = statistics.mean(r.equivalent_tokens_input for r in mine)
        row.prefill_ms = statistics.mean(r.prefill_ms for r in mine)
        rows.append(row)
    return rows


def _cell(values: list[float | None]) -> str:
    if any(v is None for v in values):
        return "judge"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def score_table(rows: list[Row], metrics: list[str]) -> str:
    """Markdown: one line per method; with several models, mean ± standard deviation."""
    header = ["method", *metrics, "equivalent tokens", "equivalent tokens (input)", "prefill ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.label, *(_cell(row.scores[m]) for m in metrics)]
        cells += [f"{row.equivalent_tokens:.1f}", f"{row.equivalent_tokens_input:.1f}"]
        cells.append(f"{row.prefill_ms:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def budget_of(label: str) -> int | None:
    """fastv-64-k3 -> 64; dense -> None."""
    return next((int(part) for part in label.split("-") if part.isdigit()), None)


def rank_table(rows: list[Row], metrics: list[str], models: list[str]) -> str:
    """Markdown: per budget and benchmark, each method's rank on every model (1 = best),
    e.g. "2 / 1 / 2" over three seeds, and its mean rank."""
    lines = [
        "| budget | benchmark | method | rank per model (" + " / ".join(models) + ") | mean rank |",
        "|---|---|---|---|---|",
    ]
    for budget in sorted({b for r in rows if (b := budget_of(r.label))}, reverse=True):
        group = [r for r in rows if budget_of(r.label) == budget]
        for metric in metrics:
            if any(v is None for r in group for v in r.scores[metric]):
                continue
            ranks = {r.label: [] for r in group}
            for index in range(len(models)):
                order = sorted(group, key=lambda r, i=index: -r.scores[metric][i])
                for rank, row in enumerate(order, start=1):
                    ranks[row.label].append(rank)
            for label, per_model in sorted(ranks.items(), key=lambda x: statistics.mean(x[1])):
                shown = " / ".join(str(rank) for rank in per_model)
                lines.append(
                    f"| {budget} | {metric} | {label} | {shown} | "
                    f"{statistics.mean(per_model):.2f} |"
                )
    return "\n".join(lines)
