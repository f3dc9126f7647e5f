"""Kill -9 and resume: `gengap eval` and `gengap data` (GP and V-IRL, every kind) end with exactly the file an
uninterrupted run writes: same rows, same order, nothing twice, nothing missing; and a changed setting is refused
in one line naming the file, the field, the old and the new value.

Two kinds of evidence. A real ``SIGKILL`` of the command line in a subprocess, at a (seeded) point observed from
outside: once its output holds ``k`` lines. And the states a kill can leave, made by editing files: every writer
only appends (or replaces a file atomically), so a kill leaves a byte prefix of the output (a torn last line
included), with or without the files written after it (summary, tables) — each rerun must repair it.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gengap.cli import main
from gengap.core.io import guard_settings, read_jsonl

EVAL_FILES = ("episodes.jsonl", "summary.json", "summary.md", "summary.csv", "settings.json")


@dataclass(frozen=True)
class Case:
    """One resumable command: its flags (without ``--out``), and whether ``--out`` is a folder (eval)."""

    args: tuple[str, ...]
    folder: bool = False

    def out(self, root: Path, tag: str) -> Path:
        return root / tag if self.folder else root / f"{tag}.jsonl"

    def results(self, out: Path) -> Path:
        """The file that grows row by row (what a kill cuts short)."""
        return out / "episodes.jsonl" if self.folder else out

    def settings(self, out: Path) -> Path:
        return out / "settings.json" if self.folder else out.with_name(out.name + ".settings.json")

    def run(self, out: Path) -> int:
        return main([*self.args, "--out", str(out), "--quiet"])

    def snapshot(self, out: Path) -> dict[str, bytes | None]:
        """Every file the command writes, as bytes, with the output's own name replaced (``config.yaml`` names
        the folder, a vision data file its ``<stem>_images/`` folder, whose pictures are compared too)."""
        if self.folder:
            files = {name: _bytes(out / name) for name in (*EVAL_FILES, "config.yaml")}
            files["config.yaml"] = (files["config.yaml"] or b"").replace(str(out).encode(), b"OUT")
            return files
        images = out.parent / f"{out.stem}_images"
        files = {"data": (_bytes(out) or b"").replace(f"{out.stem}_images/".encode(), b"OUT_images/")}
        files["settings"] = _bytes(self.settings(out))
        files |= {f"image {p.name}": p.read_bytes() for p in sorted(images.glob("*.png"))}
        return files


def _bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


CASES = {
    "gp-eval": Case(
        ("gp", "eval", "--model", "oracle,noisy", "--splits", "id,ood-rule", "--n", "40", "--batch-size", "8"),
        folder=True,
    ),
    "virl-eval": Case(
        ("virl", "eval", "--world", "grid", "--model", "noisy,random", "--n", "24", "--batch-size", "4"), folder=True
    ),
    "gp-data-optimal": Case(("gp", "data", "--kind", "optimal", "--n", "100")),
    "gp-data-suboptimal": Case(("gp", "data", "--kind", "suboptimal", "--n", "100")),
    "virl-data-routes": Case(("virl", "data", "--world", "grid", "--kind", "routes", "--n", "60")),
    "virl-data-optimal": Case(("virl", "data", "--world", "grid", "--kind", "optimal", "--n", "60")),
    "virl-data-suboptimal": Case(("virl", "data", "--world", "grid", "--kind", "suboptimal", "--n", "60")),
}
"""Sized so that a subprocess writes for a good while after it starts (a kill lands mid-run)."""

SMALL = {
    "gp-eval": Case(
        ("gp", "eval", "--model", "oracle,noisy", "--splits", "id,ood-rule", "--n", "6", "--batch-size", "3"),
        folder=True,
    ),
    "virl-eval": Case(
        ("virl", "eval", "--world", "grid", "--model", "noisy", "--n", "4", "--batch-size", "2"), folder=True
    ),
    "gp-data-optimal": Case(("gp", "data", "--kind", "optimal", "--n", "8")),
    "gp-data-suboptimal": Case(("gp", "data", "--kind", "suboptimal", "--n", "8")),
    "virl-data-routes": Case(("virl", "data", "--world", "grid", "--kind", "routes", "--n", "6")),
    "virl-data-optimal": Case(("virl", "data", "--world", "grid", "--kind", "optimal", "--n", "3")),
    "virl-data-suboptimal": Case(("virl", "data", "--world", "grid", "--kind", "suboptimal", "--n", "3")),
    "virl-data-suboptimal-vision": Case(
        ("virl", "data", "--world", "grid", "--kind", "suboptimal", "--n", "2", "--vision", "--image-size", "32")
    ),
}
"""The same commands, small, for the crash states made by editing files (run in this process)."""


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_once_it_wrote(case: Case, out: Path, lines: int, timeout: float = 60.0) -> int | None:
    """Start the command line in a subprocess and SIGKILL it once its results hold ``lines`` lines; return how
    many they held then, or ``None`` when it finished first (a loaded machine can miss the moment)."""
    cmd = [sys.executable, "-m", "gengap.cli", *case.args, "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and _lines(case.results(out)) < lines and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()
    return _lines(case.results(out)) if proc.returncode == -signal.SIGKILL else None


@pytest.mark.parametrize("name", sorted(CASES))
def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    reference = case.out(tmp_path, "reference")
    assert case.run(reference) == 0
    expected = case.snapshot(reference)
    total = _lines(case.results(reference))
    rng = random.Random(name)
    for attempt in range(3):  # a kill point at most halfway leaves the subprocess plenty still to write
        out = case.out(tmp_path, f"killed{attempt}")
        held = _kill_once_it_wrote(case, out, rng.randint(1, total // 2))
        if held is not None and held < total:
            break
    else:
        pytest.fail("the command finished before each kill: make the case larger")
    assert case.run(out) == 0
    assert case.snapshot(out) == expected


def read_jsonl_bytes(data: bytes) -> list[dict]:
    """The rows :func:`read_jsonl` would read from ``data`` (a torn line skipped)."""
    rows = []
    for line in data.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            rows.append(json.loads(line))
    return rows


def _copy_pictures_of_whole_rows(reference: Path, out: Path, prefix: bytes) -> None:
    """A vision writer saves the pictures of a unit (a route) before any of its rows: a kill leaves the pictures
    of every unit whose rows it began to write (the torn unit's may be there too; leaving them out is harsher)."""
    begun = {row["index"] for row in read_jsonl_bytes(prefix)}
    for row in read_jsonl(reference):
        for image in row.get("images", []) if row["index"] in begun else []:
            target = out.parent / image.replace(f"{reference.stem}_images", f"{out.stem}_images")
            target.parent.mkdir(exist_ok=True)
            shutil.copy(reference.parent / image, target)


def _prefix_states(data: bytes, rng: random.Random, count: int) -> list[int]:
    """Byte offsets a kill can leave: nothing, mid-line (seeded), just before and after a newline, everything."""
    ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    picks = {0, len(data), len(data) - 1, ends[len(ends) // 2], ends[len(ends) // 2] - 1}
    while len(picks) < count:
        picks.add(rng.randrange(1, len(data)))
    return sorted(picks)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_rerun_repairs_every_byte_prefix_a_kill_can_leave(name: str, tmp_path: Path, capsys) -> None:
    """The results cut at seeded byte offsets (a torn line, a route cut mid-way, a file ending in a row without
    its newline), with the files written after them gone: the rerun ends with exactly the uninterrupted files."""
    case = SMALL[name]
    reference = case.out(tmp_path, "reference")
    assert case.run(reference) == 0
    expected = case.snapshot(reference)
    data = case.results(reference).read_bytes()
    for k, offset in enumerate(_prefix_states(data, random.Random(name), 9)):
        out = case.out(tmp_path, f"cut{k}")
        case.settings(out).parent.mkdir(exist_ok=True)
        shutil.copy(case.settings(reference), case.settings(out))  # recorded before the first row
        prefix = data[:offset].replace(f"{reference.stem}_images/".encode(), f"{out.stem}_images/".encode())
        case.results(out).write_bytes(prefix)
        if not case.folder:
            _copy_pictures_of_whole_rows(reference, out, data[:offset])
        (case.results(out).parent / f".{case.results(out).name}.123.tmp").write_text("{")  # an atomic write cut short
        assert case.run(out) == 0, capsys.readouterr().err
        assert case.snapshot(out) == expected, f"cut at byte {offset} of {len(data)}"


@pytest.mark.parametrize("name", ["gp-eval", "virl-eval"])
def test_eval_killed_between_its_episodes_and_its_summary(name: str, tmp_path: Path) -> None:
    case = SMALL[name]
    reference = case.out(tmp_path, "reference")
    assert case.run(reference) == 0
    expected = case.snapshot(reference)
    for gone in (("summary.json", "summary.md", "summary.csv", "config.yaml"), ("summary.md", "summary.csv")):
        out = case.out(tmp_path, f"without-{len(gone)}")
        shutil.copytree(reference, out)
        for file in gone:
            (out / file).unlink()
        if "summary.json" not in gone:
            (out / "summary.json").write_text("{}")  # as an earlier run left it
        assert case.run(out) == 0
        assert case.snapshot(out) == expected
    # settings recorded, then killed before the first episode: the folder is still free for other settings
    out = case.out(tmp_path, "claimed")
    out.mkdir()
    (out / "settings.json").write_text(json.dumps({"game": "other", "seed": 7}))
    assert case.run(out) == 0
    assert case.snapshot(out) == expected


def test_a_smaller_n_is_refused_for_data_and_said_for_eval(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.jsonl"
    assert main(["virl", "data", "--world", "grid", "--kind", "optimal", "--n", "3", "--out", str(data)]) == 0
    before = data.read_bytes()
    capsys.readouterr()
    assert main(["virl", "data", "--world", "grid", "--kind", "optimal", "--n", "2", "--out", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(data) in err and "3 routes" in err and "--n 3" in err
    assert data.read_bytes() == before  # nothing discarded
    # a larger --n extends the file to exactly the larger set
    assert main(["virl", "data", "--world", "grid", "--kind", "optimal", "--n", "5", "--out", str(data)]) == 0
    fresh = tmp_path / "fresh.jsonl"
    assert main(["virl", "data", "--world", "grid", "--kind", "optimal", "--n", "5", "--out", str(fresh)]) == 0
    assert data.read_bytes() == fresh.read_bytes()

    out = tmp_path / "ev"
    base = ["gp", "eval", "--model", "oracle", "--splits", "id", "--out", str(out), "--quiet"]
    assert main([*base, "--n", "5"]) == 0
    capsys.readouterr()
    assert main([*base, "--n", "3"]) == 0
    said = capsys.readouterr().out
    assert "2 episode(s) beyond --n" in said and "first 3 of id" in said
    assert json.loads((out / "summary.json").read_text())["results"][0]["episodes"] == 3
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 5


def test_rows_without_their_settings_file_are_refused(tmp_path: Path, capsys) -> None:
    """Settings are recorded before the first row, so rows without them were not left by a crash: nothing says
    how they were made, and mixing would be silent."""
    for args, out, settings in (
        (["gp", "data", "--n", "3"], tmp_path / "d.jsonl", tmp_path / "d.jsonl.settings.json"),
        (
            ["gp", "eval", "--model", "oracle", "--splits", "id", "--n", "2"],
            tmp_path / "ev",
            tmp_path / "ev/settings.json",
        ),
    ):
        assert main([*args, "--out", str(out), "--quiet"]) == 0
        settings.unlink()
        capsys.readouterr()
        assert main([*args, "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(settings) in err and "missing" in err and "--out" in err


def test_the_last_route_is_judged_by_content_not_by_count(tmp_path: Path) -> None:
    """A route whose rows are all there in number but not what the expert writes (say, the last route of a file
    that a crash cut and something else appended to) is written again, as is everything after a route with a
    gap."""
    case = SMALL["virl-data-suboptimal"]
    reference = case.out(tmp_path, "reference")
    assert case.run(reference) == 0
    expected = case.snapshot(reference)
    rows = list(read_jsonl(reference))
    last = max(r["index"] for r in rows)
    out = case.out(tmp_path, "edited")
    shutil.copy(case.settings(reference), case.settings(out))
    edited = [dict(r, messages=r["messages"][:1]) if r["index"] == last and r["point"] == 0 else r for r in rows]
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in edited))
    assert case.run(out) == 0 and case.snapshot(out) == expected
    gap = [r for r in rows if not (r["index"] == 0 and r["point"] == 1)]  # route 0 lost a row in the middle
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in gap))
    assert case.run(out) == 0 and case.snapshot(out) == expected


def test_a_changed_setting_names_the_file_the_field_and_both_values(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ev"
    base = ["gp", "eval", "--model", "oracle", "--splits", "id", "--n", "2", "--out", str(out), "--quiet"]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--seed", "1", "--verify-iter", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"gengap: error: {out / 'settings.json'} was made with other settings: verify_iter=5, not verify_iter=3 "
        f"(and seed=0, not 1); use a new --out or delete {out / 'episodes.jsonl'}"
    )
    data = tmp_path / "r.jsonl"
    assert main(["virl", "data", "--world", "grid", "--n", "2", "--out", str(data), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["virl", "data", "--world", "grid", "--n", "2", "--out", str(data), "--split", "ood-rule"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{data}.settings.json was made with other settings: split='id', not split='ood-rule'" in err
    assert len(err.splitlines()) == 1


def test_guard_settings_flattens_and_never_counts_output_paths(tmp_path: Path) -> None:
    path = tmp_path / "run" / "gengap_run.json"
    path.parent.mkdir()
    old = {"output_dir": str(tmp_path / "run"), "lr": 0.1, "game": {"name": "gp", "verify_iter": 5}, "parent": {}}
    guard_settings(path, old)  # the positional form every caller uses
    assert "output_dir" not in json.loads(path.read_text())
    guard_settings(path, {**old, "output_dir": str(tmp_path / "renamed")})  # a renamed folder resumes
    with pytest.raises(ValueError) as err:
        guard_settings(path, {**old, "lr": 0.2, "game": {"name": "gp", "verify_iter": 4}, "parent": {"steps": 9}})
    message = str(err.value)
    assert message == (
        f"{path} was made with other settings: lr=0.1, not lr=0.2 (and verify_iter=5, not 4; steps=None, not 9); "
        "use a new output or delete the file"
    )
    # an older file that recorded its output folder: the folder is forgotten, the run resumes
    path.write_text(json.dumps({**old, "output_dir": "/elsewhere"}))
    guard_settings(path, old)
    assert "output_dir" not in json.loads(path.read_text())
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a settings file"):
        guard_settings(path, old)
