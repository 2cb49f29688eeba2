"""The dense-speed comparison runs and prints both decoders and their ratio."""

from __future__ import annotations

from llava.speed.dense_vs_transformers import main


def test_prints_both_and_the_ratio(capsys):
    main(["--shape", "tiny", "--repeats", "1", "--decode-steps", "2"])
    rows = [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines()]
    assert ["| ours", "| transformers", "| ours / transformers"] == [
        row for row in rows if row.startswith("| ") and row != "| " and "---" not in row
    ][-3:]
