from __future__ import annotations

import io
import json
import subprocess
import sys

from PIL import Image

from gengap.cli import main
from gengap.gp import GeneralPoints
from gengap.gp.play import play


def test_eval_writes_reports_and_measures_what_it_should(tmp_path, capsys) -> None:
    out = tmp_path / "ev"
    args = [
        "gp",
        "eval",
        "--out",
        str(out),
        "--n",
        "20",
        "--quiet",
        "--model",
        "rule-reader,rule-blind",
        "--splits",
        "id,ood-rule,ood-visual,fake-rule",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())["results"]
    by = {(r["policy"], r["split"]): r for r in summary}
    # The instruments separate a rule-reader from a memoriser exactly as the study needs.
    assert by[("rule-reader", "ood-rule")]["success"]["rate"] == 1.0
    assert by[("rule-blind", "ood-rule")]["success"]["rate"] == 0.0
    assert by[("rule-blind", "ood-rule")]["train_rule_rate"]["rate"] == 1.0
    assert by[("rule-blind", "fake-rule")]["success"]["rate"] == 1.0
    assert by[("rule-reader", "fake-rule")]["success"]["rate"] == 0.0
    rows = (out / "episodes.jsonl").read_text().splitlines()
    assert len(rows) == 2 * 4 * 20
    assert (out / "summary.md").read_text().count("\n| rule-") == 8
    assert "rule-blind" in (out / "summary.csv").read_text()
    assert "success %" in capsys.readouterr().out


def test_eval_resumes_after_interruption(tmp_path) -> None:
    out = tmp_path / "ev"
    args = ["gp", "eval", "--out", str(out), "--n", "10", "--quiet", "--model", "noisy", "--splits", "id"]
    assert main(args) == 0
    full = (out / "episodes.jsonl").read_text().splitlines()
    (out / "episodes.jsonl").write_text("\n".join(full[:4]) + "\n" + full[4][:30])  # killed mid-write
    assert main(args) == 0
    again = (out / "episodes.jsonl").read_text().splitlines()
    assert len(again) == 10
    key = lambda r: (r["index"], r["outcomes"])  # noqa: E731
    assert sorted(map(key, map(json.loads, again))) == sorted(map(key, map(json.loads, full)))


def test_show_writes_png(tmp_path, capsys) -> None:
    path = tmp_path / "hand.png"
    assert main(["gp", "show", "--cards", "3,3,8,8", "--out", str(path), "--image-size", "300"]) == 0
    assert Image.open(path).size == (300, 300)
    assert "8/(3-8/3)" in capsys.readouterr().out


def test_data_command(tmp_path) -> None:
    path = tmp_path / "d.jsonl"
    assert main(["gp", "data", "--n", "7", "--kind", "suboptimal", "--out", str(path), "--quiet"]) == 0
    assert len(path.read_text().splitlines()) == 7


def test_bad_input_gives_one_line_error(tmp_path) -> None:
    for args in (
        ["gp", "eval", "--splits", "nope", "--out", str(tmp_path)],
        ["gp", "show", "--cards", "3,3,8,Z", "--out", str(tmp_path / "x.png")],
        ["gp", "data", "--out", str(tmp_path / "x.txt")],
        ["gp", "show", "--split", str(tmp_path / "missing.json")],
    ):
        proc = subprocess.run([sys.executable, "-m", "gengap.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gengap: error:"), proc.stderr


def test_human_play_with_typed_formulas() -> None:
    out = io.StringIO()
    solved = play(GeneralPoints(), 0, stdin=io.StringIO("1+1\n\n" + "{}\n"), stdout=out)
    text = out.getvalue()
    assert not solved and "You are playing" in text and "wrong_numbers" in text and "(no more input)" in text
    ep = GeneralPoints().episode(0)
    out = io.StringIO()
    assert play(GeneralPoints(), 0, stdin=io.StringIO(f"{ep.solutions[0]}\n"), stdout=out)
    assert "Solved!" in out.getvalue()


def test_eval_refuses_to_mix_settings_in_one_folder(tmp_path) -> None:
    out = str(tmp_path / "ev")
    base = ["gp", "eval", "--out", out, "--n", "3", "--quiet", "--model", "oracle", "--splits", "id"]
    assert main([*base, "--verify-iter", "1"]) == 0
    assert main([*base, "--verify-iter", "5"]) == 2  # one-line error, nothing mixed
    assert main([*base, "--verify-iter", "1", "--seed", "0"]) == 0
    assert main([*base, "--verify-iter", "1", "--splits", "id,id"]) == 0
    rows = (tmp_path / "ev" / "episodes.jsonl").read_text().splitlines()
    assert len(rows) == 3
