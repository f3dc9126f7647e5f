"""Every error a user can cause ends in one line that names what to fix, and a non-zero exit, before any work.

Each case runs ``gengap.cli.main`` in-process, the way a hostile user would type it: outputs that cannot be
written, damaged input files, out-of-range numbers (on the command line and in YAML), models that are not there.
None needs ``torch`` or the network: broken checkpoints are made by hand, and the Hub probe is pointed at a
closed local port.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import tempfile
import time
import typing
from pathlib import Path

import pytest

from gengap.cli import _missing_module, _os_error, main
from gengap.cli.games import DataConfig
from gengap.core.config import Bounds, ConfigError, _info, parse_config
from gengap.eval.config import EvalConfig
from gengap.rl.config import RLConfig
from gengap.train.config import PretrainRunConfig, SFTRunConfig

CONVERSATION = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}


def _writable(folder: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


@pytest.fixture(scope="module")
def unwritable(tmp_path_factory) -> Path:
    """A folder nobody may write in: a read-only one, or for root (who ignores permission bits) ``/sys``."""
    folder = tmp_path_factory.mktemp("ro")
    folder.chmod(0o555)
    if not _writable(folder):
        return folder
    folder.chmod(0o755)
    if Path("/sys").is_dir() and not _writable(Path("/sys")):
        return Path("/sys")
    pytest.skip("no folder on this machine refuses writes")


def _pbf_header_block(datasize: int) -> bytes:
    """A PBF block header announcing an ``OSMHeader`` block of ``datasize`` bytes (protobuf by hand)."""
    message = b"\x0a\x09OSMHeader\x18" + bytes([datasize])  # field 1: type; field 3: datasize (< 128)
    return len(message).to_bytes(4, "big") + message


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The damaged inputs and occupied paths of the cases below."""
    root = tmp_path_factory.mktemp("inputs")
    made = {"file": root / "a_file", "folder": root / "a_folder", "folder.jsonl": root / "folder.jsonl"}
    made["file"].write_text("not a folder\n")
    made["folder"].mkdir()
    made["folder.jsonl"].mkdir()
    good = json.dumps(CONVERSATION) + "\n"
    data = {
        "good.jsonl": good * 3,
        "cut.jsonl": good * 2 + good[:25],
        "empty.jsonl": "",
        "user-only.jsonl": json.dumps({"messages": CONVERSATION["messages"][:1]}) + "\n",
        "not-json.jsonl": good + "hello\n" + good,
    }
    for name, text in data.items():
        made[name] = root / name
        made[name].write_text(text)
    made["random.osm.pbf"] = root / "random.osm.pbf"
    made["random.osm.pbf"].write_bytes(bytes(range(256)) * 8)
    made["cut.osm.pbf"] = root / "cut.osm.pbf"
    made["cut.osm.pbf"].write_bytes(_pbf_header_block(100) + b"\x00" * 40)
    made["empty.osm.pbf"] = root / "empty.osm.pbf"
    made["empty.osm.pbf"].write_bytes(b"")
    for name in ("no-weights", "cut-weights", "no-config"):
        made[name] = root / name
        made[name].mkdir()
    for name in ("no-weights", "cut-weights"):
        (made[name] / "config.json").write_text('{"model_type": "llama"}')
    header = json.dumps({"w": {"dtype": "F32", "shape": [64], "data_offsets": [0, 256]}}).encode()
    (made["cut-weights"] / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 100)
    (made["no-config"] / "model.safetensors").write_bytes(b"")
    made["run.yaml"] = root / "run.yaml"
    made["run.yaml"].write_text("n: -5\n")
    made["null.yaml"] = root / "null.yaml"
    made["null.yaml"].write_text("batch_size: null\n")
    return made


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def _one_line(code: int, err: str, *needles: str) -> str:
    assert code != 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gengap: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# Each case: (the command line, with {name} for a path of ``files`` or {ro} for the unwritable folder, and the
# words the one line must contain).
CASES = {
    # outputs: a file where a folder goes, the reverse, a file above, a folder that takes no writes, empty
    "eval-out-is-a-file": (["gp", "eval", "--out", "{file}"], ["--out", "a_file", "is a file"]),
    "eval-out-unwritable": (["gp", "eval", "--out", "{ro}/ev"], ["--out", "cannot write in"]),
    "eval-out-empty": (["gp", "eval", "--out", ""], ["--out is empty"]),
    "data-out-is-a-folder": (["gp", "data", "--out", "{folder.jsonl}"], ["--out", "folder.jsonl", "is a folder"]),
    "data-out-under-a-file": (["gp", "data", "--out", "{file}/d.jsonl"], ["--out", "a_file is a file"]),
    "data-out-unwritable": (["virl", "data", "--out", "{ro}/d.jsonl"], ["--out", "cannot write in"]),
    "show-out-under-a-file": (["gp", "show", "--out", "{file}/x.png"], ["--out", "a_file is a file"]),
    "show-out-unwritable": (["gp", "show", "--out", "{ro}/x.png"], ["--out", "cannot write in"]),
    "show-folder-is-a-file": (["gp", "show", "--out", "{file}"], ["a_file", "not a folder"]),  # last resort
    "pretrain-out-is-a-file": (["pretrain", "--output-dir", "{file}"], ["--output-dir", "a_file"]),
    "sft-out-unwritable": (["sft", "--data", "{good.jsonl}", "--output-dir", "{ro}/s"], ["--output-dir"]),
    "rl-out-is-a-file": (["rl", "--output-dir", "{file}"], ["--output-dir", "a_file"]),
    # SFT data: cut short, empty, nothing to learn from, not JSON, missing, a folder
    "sft-data-cut": (["sft", "--data", "{cut.jsonl}"], ["cut.jsonl, line 3", "cut off"]),
    "sft-data-empty": (["sft", "--data", "{empty.jsonl}"], ["empty.jsonl", "no examples"]),
    "sft-data-user-only": (["sft", "--data", "{user-only.jsonl}"], ["user-only.jsonl, line 1", "assistant"]),
    "sft-data-not-json": (["sft", "--data", "{not-json.jsonl}"], ["not-json.jsonl, line 2", "not valid JSON"]),
    "sft-data-missing": (["sft", "--data", "{folder}/none.jsonl"], ["none.jsonl", "gengap data"]),
    "sft-data-folder": (["sft", "--data", "{folder}"], ["a_folder is a folder"]),
    # OSM extracts: random bytes, cut short, empty
    "osm-random": (["virl", "data", "--world", "{random.osm.pbf}"], ["random.osm.pbf", "not an OpenStreetMap"]),
    "osm-cut": (["virl", "eval", "--world", "{cut.osm.pbf}"], ["cut.osm.pbf is truncated"]),
    "osm-empty": (["rl", "--game", "virl", "--world", "{empty.osm.pbf}"], ["empty.osm.pbf", "empty"]),
    # numbers out of range, on the command line and in YAML
    "pretrain-steps-negative": (["pretrain", "--max-steps", "-1"], ["--max-steps must be at least 1, got -1"]),
    "pretrain-steps-zero": (["pretrain", "--max-steps", "0"], ["--max-steps must be at least 1, got 0"]),
    "pretrain-heads": (["pretrain", "--hidden-size", "100"], ["--hidden-size 100", "--num-heads 3"]),
    "data-n-negative": (["gp", "data", "--n", "-5"], ["--n must be in [1, 10000000], got -5"]),
    "data-n-zero": (["virl", "data", "--n", "0"], ["--n must be in [1, 10000000], got 0"]),
    "eval-n-zero": (["gp", "eval", "--n", "0"], ["--n must be in [1, 100000], got 0"]),
    "eval-n-huge": (["gp", "eval", "--n", "10" * 12], ["--n must be in [1, 100000]"]),
    "eval-temperature": (["gp", "eval", "--temperature", "-1"], ["--temperature must be at least 0"]),
    "eval-top-p": (["gp", "eval", "--top-p", "1.5"], ["--top-p must be in (0, 1], got 1.5"]),
    "eval-verify-iter": (["gp", "eval", "--verify-iter", "0"], ["--verify-iter must be at least 1"]),
    "eval-image-size": (["gp", "eval", "--vision", "--image-size", "99999"], ["--image-size must be in [16, 4096]"]),
    "eval-batch-size": (["gp", "eval", "--batch-size", "0"], ["--batch-size must be at least 1"]),
    "sft-lr-nan": (["sft", "--learning-rate", "nan"], ["--learning-rate must be greater than 0, got nan"]),
    "sft-batch": (["sft", "--per-device-train-batch-size", "0"], ["--per-device-train-batch-size"]),
    "rl-lr-zero": (["rl", "--learning-rate", "0"], ["--learning-rate must be greater than 0"]),
    "rl-gamma": (["rl", "--gamma", "2"], ["--gamma must be in [0, 1], got 2.0"]),
    "rl-accumulation-zero": (["rl", "--gradient-accumulation-steps", "0"], ["--gradient-accumulation-steps"]),
    "grpo-group": (["rl", "--algo", "grpo", "--num-generations", "1"], ["--num-generations must be at least 2"]),
    "yaml-n-negative": (["gp", "eval", "--config", "{run.yaml}"], ["--n must be", "got -5 (from", "run.yaml"]),
    "yaml-null": (["gp", "eval", "--config", "{null.yaml}"], ["--batch-size needs a value", "null.yaml"]),
    # models that are not there, or broken
    "model-no-weights": (["gp", "eval", "--model", "{no-weights}"], ["no-weights has no weights"]),
    "model-cut-weights": (["gp", "eval", "--model", "{cut-weights}"], ["model.safetensors is truncated"]),
    "model-no-config": (["gp", "eval", "--model", "{no-config}"], ["no config.json", "oracle"]),
    "model-a-file": (["gp", "eval", "--model", "{file}"], ["a_file is a file", "oracle"]),
    "sft-model-missing": (["sft", "--data", "{good.jsonl}", "--model", "nosuchmodel"], ["'nosuchmodel'"]),
    # the rest a hostile user tries
    "config-missing": (["gp", "eval", "--config", "{folder}/none.yaml"], ["--config", "no such file"]),
    "config-a-folder": (["gp", "eval", "--config", "{folder}"], ["--config", "a folder"]),
    "config-binary": (["gp", "eval", "--config", "{random.osm.pbf}"], ["random.osm.pbf is not a text file"]),
    "unknown-split": (["gp", "eval", "--splits", "id,nope"], ["unknown split 'nope'"]),
    "unknown-world": (["virl", "eval", "--world", "atlantis"], ["unknown world 'atlantis'"]),
}


def _fill(arg: str, paths: dict[str, str]) -> str:
    for name, path in paths.items():
        arg = arg.replace("{" + name + "}", path)
    return arg


@pytest.mark.parametrize("case", list(CASES))
def test_a_users_error_is_one_line_naming_what_to_fix(case, files, unwritable, tmp_path, capsys, monkeypatch) -> None:
    args, needles = CASES[case]
    monkeypatch.chdir(tmp_path)  # outputs a case does not name go here, never into the repository
    argv = [_fill(a, {k: str(v) for k, v in files.items()} | {"ro": str(unwritable)}) for a in args]
    if argv[0] not in ("pretrain", "sft", "rl") and "--out" not in argv:
        argv += ["--out", str(tmp_path / ("o.jsonl" if "data" in argv else "o"))]
    if argv[0] in ("pretrain", "sft", "rl") and "--output-dir" not in argv:
        argv += ["--output-dir", str(tmp_path / "run")]
    if argv[0] == "sft" and "--data" not in argv:
        argv += ["--data", str(files["good.jsonl"])]
    code, err = _run(argv, capsys)
    _one_line(code, err, *needles)
    assert not list(tmp_path.glob("**/.gengap-write-test-*"))  # the write probe leaves nothing behind


@pytest.mark.parametrize("name", ["HuggingFaceTB/NoSuchModel", "nosuchmodel"])
def test_a_missing_model_fails_at_once_offline(name, tmp_path, capsys, monkeypatch) -> None:
    """No Hub retries: with ``HF_HUB_OFFLINE`` set, and without it on a machine that cannot reach the Hub (here
    an endpoint on a closed local port). The line says what ``--model`` accepts."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    for offline in ("1", None):
        if offline is None:
            monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
            monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
            for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
                monkeypatch.delenv(proxy, raising=False)
            monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
        else:
            monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        start = time.perf_counter()
        code, err = _run(["gp", "eval", "--model", name, "--n", "1", "--out", str(tmp_path / "ev")], capsys)
        seconds = time.perf_counter() - start
        line = _one_line(code, err, repr(name), "built-in model (tiny-lm", "oracle", f"hf download {name}")
        assert ("HF_HUB_OFFLINE is set" in line) == (offline == "1"), line
        assert seconds < 5, seconds  # measured: ~0.05 s in-process (the Hub probe waits at most 1.5 s)
    assert not (tmp_path / "ev").exists()  # refused before the run claimed its folder


def test_a_cached_hub_model_loads_from_its_snapshot_without_the_network(tmp_path, monkeypatch) -> None:
    """A Hub id in the local cache resolves to its snapshot folder: nothing is asked of the Hub."""
    import huggingface_hub.constants

    from gengap.models.registry import resolve

    snapshot = tmp_path / "models--org--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (snapshot / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    (tmp_path / "models--org--tiny" / "refs").mkdir()
    (tmp_path / "models--org--tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert resolve("org/tiny") == snapshot


@pytest.mark.parametrize(
    ("err", "words"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/x/y"), "permission denied: /x/y"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "f/x"), "f/x: a part of this path is a file"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "d.jsonl"), "d.jsonl is a folder where a file"),
        (FileExistsError(errno.EEXIST, "File exists", "f"), "f already exists and is not a folder"),
        (OSError(errno.ENOSPC, "No space left on device", "/full/a"), "no space left on the device holding /full/a"),
        (OSError(errno.EIO, "Input/output error", "/dev/x"), "/dev/x: input/output error"),
        (FileNotFoundError("no data file at x.jsonl; write it"), "no data file at x.jsonl; write it"),
    ],
)
def test_the_last_resort_turns_os_errors_into_one_line_naming_the_path(err, words) -> None:
    line = _os_error(err)
    assert line == words or line.startswith(words), line
    assert "\n" not in line


def test_an_os_error_deep_in_a_command_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    """What no boundary check foresaw (a disk filling up mid-run) still ends in one line, not a traceback."""
    import gengap.cli.games as games_cli

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "d.jsonl"))

    monkeypatch.setattr(games_cli, "_options_of", full)
    code, err = _run(["gp", "data", "--n", "1", "--out", str(tmp_path / "d.jsonl")], capsys)
    _one_line(code, err, "no space left", "d.jsonl")


def test_a_missing_extra_names_the_one_to_install() -> None:
    assert _missing_module(ModuleNotFoundError("no pyrosm", name="pyrosm")).endswith("pip install 'gengap[osm]'")
    assert _missing_module(ModuleNotFoundError("no torch", name="torch.cuda")).endswith("'gengap[train]'")
    assert _missing_module(ImportError("the vllm backend needs vLLM: pip install vllm")).endswith("pip install vllm")


def test_intervals_read_as_written() -> None:
    assert str(Bounds.parse("[1, inf)")) == "at least 1" and 1 in Bounds.parse("[1, inf)")
    assert str(Bounds.parse("(0, inf)")) == "greater than 0" and 0.0 not in Bounds.parse("(0, inf)")
    top_p = Bounds.parse("(0, 1]")
    assert str(top_p) == "in (0, 1]" and 1.0 in top_p and 0 not in top_p and 1.01 not in top_p
    assert float("nan") not in top_p and True not in Bounds.parse("[0, 1]") and "1" not in top_p
    assert float("inf") not in Bounds.parse("[0, inf)")
    with pytest.raises(ValueError, match="not an interval"):
        Bounds.parse("1..5")


def test_the_python_api_checks_the_same_bounds() -> None:
    with pytest.raises(ConfigError, match=r"--n must be in \[1, 100000\], got 0"):
        EvalConfig(n=0)
    with pytest.raises(ConfigError, match=r"--minibatch-size must be at least 1"):
        RLConfig(minibatch_size=0)  # before `minibatch % accumulation` could divide by zero
    with pytest.raises(ConfigError, match=r"--max-steps must be at least 1, got -1"):
        PretrainRunConfig(max_steps=-1)
    assert parse_config(EvalConfig, ["--n", "1", "--top-p", "1", "--temperature", "0"]).n == 1  # edges are in


UNBOUNDED = {"seed", "temperature"}
"""Numbers that take any value (seeds), or are checked with a message of their own (RL's temperature > 0)."""


@pytest.mark.parametrize("cls", [EvalConfig, DataConfig, SFTRunConfig, PretrainRunConfig, RLConfig])
def test_every_count_size_step_and_rate_declares_its_bounds(cls) -> None:
    """A new numeric setting without bounds fails here: ``--n -5`` must never again run and print nan."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = typing.get_args(hints[f.name]) or (hints[f.name],)
        if {int, float} & set(kind) and f.name not in UNBOUNDED:
            assert _info(f)["bounds"] is not None, f"{cls.__name__}.{f.name} declares no bounds"
