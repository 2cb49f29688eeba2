"""The throughput view runs and prints one row per workload, method and batch size."""

from __future__ import annotations

from llava.speed.throughput import main


def test_throughput_table(capsys):
    main(["--shape", "tiny", "--questions", "3", "--batch-sizes", "1,2",
          "--methods", "dense,fastv-64", "--workloads", "pope"])  # fmt: skip
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| pope")]
    assert [row.split(" | ")[1:3] for row in rows] == [
        ["dense", "1"],
        ["dense", "2"],
        ["fastv-64", "1"],
        ["fastv-64", "2"],
    ]
    assert all(row.split(" | ")[5] != "-" for row in rows)  # ratios to batch 1
