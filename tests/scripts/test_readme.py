"""The README documents what the registries hold: every pruning method has a row in its methods
table and every benchmark a row naming its script, so a new plug-in cannot land undocumented."""

from __future__ import annotations

import re

from script_helpers import REPO

from llava.benchmarks import benchmarks
from llava.sparse.registry import methods

README = (REPO / "README.md").read_text()


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def test_every_method_has_a_row() -> None:
    rows = [line for line in _section("Pruning methods").splitlines() if line.startswith("| `")]
    documented = {re.match(r"\| `([^`]+)`", row).group(1) for row in rows}
    assert documented == set(methods())


def test_every_benchmark_names_its_script() -> None:
    section = _section("Evaluating real checkpoints, as with LLaVA")
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    scripts = set(re.findall(r"scripts/v1_5/eval/(\w+)\.sh", "\n".join(rows)))
    assert scripts == set(benchmarks())
    for name in benchmarks():
        assert (REPO / "scripts/v1_5/eval" / f"{name}.sh").is_file()
