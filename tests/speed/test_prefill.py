"""The prefill benchmark runs and reports every SparseVLM preset against dense."""

from __future__ import annotations

from llava.speed.prefill import METHODS, main


def test_prefill_benchmark_reports_each_preset(capsys) -> None:
    main(["--shape", "tiny", "--repeats", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "method" not in line]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == METHODS
    dense = rows[0].split(" | ")
    assert dense[1:2] == ["576.0"] and dense[3:5] == ["1.000", "1.000"]
    # v1.5 presets realise the papers' counts (method.md section 3)
    assert [row.split(" | ")[1] for row in rows[1:]] == ["192.0", "128.6", "64.8"]
