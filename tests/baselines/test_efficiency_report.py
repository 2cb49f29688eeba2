"""`python -m llava.speed.efficiency --shape tiny` runs and writes the markdown and JSON report
with every requested method measured against dense at its budget."""

from __future__ import annotations

import json

from llava.model.config import LlamaConfig
from llava.speed.efficiency import activation_bytes, decode_flops, main

METHODS = ["sparsevlm-64", "fastv-64", "pdrop-192", "random-128", "grid-64"]


def test_report_on_the_tiny_shape(tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["--shape", "tiny", "--device", "cpu", "--repeats", "1", "--decode-steps", "2"]
    main([*argv, "--methods", ",".join(METHODS), "--output", str(out)])
    report = json.loads((out / "efficiency.json").read_text())
    header, rows = report["header"], report["rows"]
    assert {"date", "machine", "threads", "torch", "device", "memory"} <= set(header)
    assert header["memory"].startswith("estimated")
    assert [row["method"] for row in rows] == ["dense", *METHODS], "dense first, as the reference"
    dense = rows[0]
    assert dense["equivalent_tokens_output"] == 576
    for row in rows[1:]:
        budget = int(row["method"].rsplit("-", 1)[1])
        assert abs(row["equivalent_tokens_output"] - budget) <= 1
        assert row["prefill_flops"] < dense["prefill_flops"]
        assert row["decode_flops_per_token"] < dense["decode_flops_per_token"]
        assert row["kv_bytes"] < dense["kv_bytes"]
        assert row["peak_bytes"][0] < dense["peak_bytes"][0]
        assert len(row["prefill_s"]) == len(row["decode_s_per_token"]) == 1
        assert row["pruning"]["method"] in row["method"]
    markdown = (out / "efficiency.md").read_text()
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 1 + len(METHODS)  # header, dense, methods
    assert "| dense | 576.0 / 576.0 |" in markdown
    assert "Efficiency report" in capsys.readouterr().out


def test_analytic_terms():
    config = LlamaConfig(100, 8, 16, 2, 2, 1)  # d 8, m 16, head dim 4, one KV head
    assert activation_bytes(10, config, 4) == 10 * max(2 * 8 + 3 * 16, 4 * 8 + 2 * 4) * 4
    assert decode_flops([5, 3], config) == 2 * (4 * 64 + 3 * 8 * 16) + 2 * 8 * (5 + 3)
