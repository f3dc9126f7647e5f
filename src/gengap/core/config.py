"""Configs a user can write down: dataclasses that generate the command line and read YAML, the TRL way.

Each kind of run (evaluation, data, SFT, RL, pretraining) has one dataclass whose fields carry a one-line
``help``. :class:`ConfigParser` (a :class:`trl.TrlParser`-style :class:`transformers.HfArgumentParser`; here
built on ``argparse`` alone so that the games install without ``transformers``) turns the fields into flags,
reads ``--config run.yaml`` (flat keys, the fields' names) and lets the command line override it. What it refuses,
each in one line naming the key (and the nearest valid one):

* a key or flag that does not exist;
* a key that does not apply to this run: a field declared with ``applies={"algo": ("ppo",)}`` (a PPO-only
  setting under ``--algo grpo``), or another game's option;
* a value outside the field's declared ``bounds`` (``--n 0``, ``--top-p 2``, from flags or YAML alike);
* an ``output`` the run could not write (a file where a folder goes or the reverse, a folder it may not write
  in), checked before any model is loaded.

Field metadata declared once, on the field (:func:`arg`): ``help``; ``resumable`` (may change when a run
resumes: it does not shape the result, e.g. ``output_dir``, ``save_steps``); ``applies``; ``bounds``;
``output``. Games add their own options (V-IRL's ``--world``) to every config that has the game settings
(:class:`GameArgs`); they apply to that game only, and may declare ``metadata={"help": ..., "bounds": ...}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import os
import re
import sys
import tempfile
import typing
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_KEY = "gengap"


class ConfigError(ValueError):
    """A user's config or flags are wrong; the message is one line that says what to fix."""


OUTPUTS = ("folder", "file", "any")
"""What an ``output`` field names: a folder the run fills, one file it writes, or either (``gengap show``)."""


@dataclass(frozen=True)
class Bounds:
    """An interval in the notation a reader knows: ``[1, inf)``, ``(0, 1]``, ``[16, 4096]``.

    Declared as text on the field, so that the declaration and the refusal read the same interval.
    NaN is inside no interval, and ``inf`` only when the interval is closed there.
    """

    low: float
    high: float
    low_open: bool
    high_open: bool

    @classmethod
    def parse(cls, text: str) -> Bounds:
        m = re.fullmatch(r"\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*", text)
        if m is None:
            raise ValueError(f"bounds {text!r} are not an interval such as '[1, inf)' or '(0, 1]'")
        return cls(float(m[2]), float(m[3]), m[1] == "(", m[4] == ")")

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        def num(x: float) -> str:
            return "inf" if math.isinf(x) else str(int(x)) if x.is_integer() else f"{x:g}"

        if math.isinf(self.high):
            return f"greater than {num(self.low)}" if self.low_open else f"at least {num(self.low)}"
        if math.isinf(self.low):
            return f"less than {num(self.high)}" if self.high_open else f"at most {num(self.high)}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{num(self.low)}, {num(self.high)}{right}"


def arg(
    default: Any = MISSING,
    help: str = "",
    *,
    factory: Any = None,
    resumable: bool = False,
    applies: dict[str, tuple[Any, ...]] | None = None,
    flag: bool = True,
    choices: Sequence[Any] | None = None,
    bounds: str | None = None,
    output: str | None = None,
) -> Any:
    """A config field: ``help`` (one line), and where it may change or apply (see the module docstring).

    ``bounds``: the interval a number must lie in (``"[1, inf)"``; ``None`` always passes, for "unset").
    ``output``: the field is a path the run writes, ``"folder"``, ``"file"`` or ``"any"`` (see :data:`OUTPUTS`).
    """
    if output is not None and output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")
    meta = {
        "help": help,
        _KEY: {
            "resumable": resumable,
            "applies": applies or {},
            "flag": flag,
            "choices": choices,
            "bounds": Bounds.parse(bounds) if bounds else None,
            "output": output,
        },
    }
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


_NO_INFO = {"resumable": False, "applies": {}, "flag": True, "choices": None, "bounds": None, "output": None}


def _info(f: dataclasses.Field) -> dict[str, Any]:
    return f.metadata.get(_KEY, _NO_INFO)


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def bounds_of(cls: type) -> dict[str, Bounds]:
    """The declared bounds of a config's fields (a game's options declare theirs as ``metadata["bounds"]``)."""
    out = {}
    for f in dataclasses.fields(cls):
        text = f.metadata.get("bounds")
        bounds = Bounds.parse(text) if text else _info(f)["bounds"]
        if bounds is not None:
            out[f.name] = bounds
    return out


def out_of_bounds(bounds: dict[str, Bounds], values: dict[str, Any], sources: dict[str, str] | None = None) -> None:
    """Refuse, in one line naming the flag, the value and the interval, a value outside its field's bounds.

    Checked before the dataclass is built, so that its own checks (``minibatch % accumulation``) never see a
    zero; ``sources`` names the YAML file a value came from. ``None`` (unset) is always inside.
    """
    for name, interval in bounds.items():
        value = values.get(name)
        if value is None or value in interval:
            continue
        source = (sources or {}).get(name)
        where = f" (from {source})" if source else ""
        raise ConfigError(f"{_flag(name)} must be {interval}, got {value!r}{where}")


def check_bounds(cfg: Any) -> None:
    """:func:`out_of_bounds` on a built config (configs call it first in ``__post_init__``: the Python API)."""
    out_of_bounds(bounds_of(type(cfg)), {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})


def check_outputs(cfg: Any) -> None:
    """:func:`check_output` for every field of ``cfg`` declared an ``output``."""
    for f in dataclasses.fields(cfg):
        kind, value = _info(f)["output"], getattr(cfg, f.name)
        if kind is not None and value is not None:
            check_output(value, kind, _flag(f.name))


def check_output(value: str | Path, kind: str, flag: str) -> None:
    """Refuse, before any work, an output the run could not write, in one line naming ``flag`` and the path.

    A folder output must not be an existing file; a file output not an existing folder; no folder above either
    may be a file; and the nearest existing folder must take a new file (tried, not guessed from permission
    bits: root passes those everywhere, yet not on a read-only mount or ``/sys``). Nothing is left behind.
    """
    if not str(value).strip():
        raise ConfigError(f"{flag} is empty; pass a path (an empty one would write into the current folder)")
    path = Path(value).expanduser()
    if kind == "folder" and path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {value} is a file, and this run writes a folder there; pass a folder path")
    if kind == "file" and path.is_dir():
        raise ConfigError(f"{flag} {value} is a folder, and this run writes a file there; pass a file path")
    folder = path if path.is_dir() else path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"{flag} {value}: {folder} is a file, not a folder; pass a path under a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".gengap-write-test-")
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        raise ConfigError(
            f"{flag} {value}: cannot write in {folder} ({reason}); choose a folder you can write to"
        ) from None
    os.close(fd)
    os.unlink(probe)


def shaping(cfg: Any) -> dict[str, Any]:
    """The settings that shape a run's result (every field not declared ``resumable``): what a resume must keep."""
    out = {}
    for f in dataclasses.fields(cfg):
        if _info(f)["resumable"]:
            continue
        value = getattr(cfg, f.name)
        out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return out


def run_settings(cfg: Any, game: Any) -> dict[str, Any]:
    """What a resumed training run must keep: :func:`shaping`, with the game's settings as the game resolved
    them (an unset ``--verify-iter`` and an explicit one equal to the game's default are the same run)."""
    out = shaping(cfg)
    for f in dataclasses.fields(GameArgs):
        out.pop(f.name, None)
    out["game"] = {"name": cfg.game, **game.to_dict()}
    return out


def as_flat_dict(cfg: Any) -> dict[str, Any]:
    """The config as the flat keys a ``--config`` YAML file takes (game options inlined)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        if f.name == "game_options":
            out.update(getattr(cfg, f.name))
        elif _info(f)["flag"]:
            out[f.name] = getattr(cfg, f.name)
    return out


def to_yaml(cfg: Any) -> str:
    import yaml

    return yaml.safe_dump(as_flat_dict(cfg), sort_keys=False)


def save_config(cfg: Any, folder: str | Path, name: str = "config.yaml") -> Path:
    """Write the run's config where its results go, so ``--config <folder>/config.yaml`` reruns it."""
    from gengap.core.io import atomic_write_text

    return atomic_write_text(Path(folder) / name, to_yaml(cfg))


# -------------------------------------------------------------------------------------------- game settings


@dataclass
class GameArgs:
    """The game a run plays and how (mixed into every config that plays one)."""

    game: str = arg("gp", "the game: gp (GeneralPoints) or virl (V-IRL); `gengap games` lists them")
    vision: bool = arg(False, "the vision-language form: the model sees the cards / street views only as images")
    style: str | None = arg(None, "prompt and answer style: paper or compact (default: the game's, paper)")
    verify_iter: int | None = arg(
        None,
        "attempts per episode (GP) or per route point (V-IRL); default: the game's (the paper's: GP 5, V-IRL 2)",
        bounds="[1, inf)",
    )
    image_size: int | None = arg(
        None, "image size in pixels for the vision form, 16 to 4096 (default: the game's)", bounds="[16, 4096]"
    )
    game_options: dict[str, Any] = arg(factory=dict, flag=False, help="the game's own options (set by its flags)")

    def make_game(self, split: Any = None, **overrides: Any) -> Any:
        """The game's settings object for ``split``; what is left unset takes the game's default."""
        from gengap.core.game import game_class, game_options, make_game

        own = {f.name for f in game_options(game_class(self.game))}
        settings = {k: v for k, v in self.game_options.items() if k in own}
        return make_game(
            self.game,
            split=split,
            vision=self.vision,
            style=self.style,
            verify_iter=self.verify_iter,
            image_size=self.image_size,
            **settings,
            **overrides,
        )


@dataclass
class SamplingArgs:
    """How a model decodes its answers (mixed into every config that generates)."""

    temperature: float = arg(0.0, "sampling temperature; 0 = greedy", bounds="[0, inf)")
    top_p: float = arg(
        1.0, "nucleus sampling: keep the smallest set of tokens with this much probability", bounds="(0, 1]"
    )
    max_new_tokens: int = arg(64, "new tokens per answer (one turn)", bounds="[1, inf)")

    def sampling(self, seed: int | None = None) -> Any:
        from gengap.models.generation import SamplingConfig

        return SamplingConfig(
            temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens, seed=seed
        )

    def decoding(self) -> dict[str, Any]:
        """The decoding settings as results state them."""
        kind = "greedy" if self.temperature == 0 else f"sampled at temperature {self.temperature}, top-p {self.top_p}"
        return {
            "decoding": kind,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
        }


@dataclass
class LoraArgs:
    """Low-rank adapters instead of all weights (mixed into the configs that train)."""

    use_peft: bool = arg(False, "train LoRA adapters instead of all weights")
    lora_r: int = arg(16, "LoRA rank", bounds="[1, inf)")
    lora_alpha: int = arg(32, "LoRA scaling (alpha)", bounds="[1, inf)")

    def lora_config(self) -> Any:
        from peft import LoraConfig

        return LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM")


# -------------------------------------------------------------------------------------------- the parser


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(message)


class _ListAction(argparse.Action):
    """``--model a --model b`` is ``[a, b]``: the first use replaces the default (or the YAML's list), the next
    ones extend it."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        seen = namespace.__dict__.setdefault("_lists_seen", set())
        current = list(getattr(namespace, self.dest) or []) if self.dest in seen else []
        seen.add(self.dest)
        setattr(namespace, self.dest, current + list(values))


def _type_of(hint: Any) -> tuple[Any, bool]:
    """``(item type, is a list)`` for the field types configs use (``X``, ``X | None``, ``list[X]``)."""
    args = typing.get_args(hint)
    if type(None) in args:
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0], True
    return hint, False


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "y", "on"):
        return True
    if low in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class ConfigParser:
    """Flags and ``--config`` YAML for one config dataclass (plus the games' options when it plays a game).

    ``extra_groups``: names of game class attributes holding more option dataclasses that this command
    takes (e.g. ``"DataOptions"``); their values land in ``game_options`` too.
    """

    def __init__(self, cls: type, prog: str, description: str = "", extra_groups: Sequence[str] = ()) -> None:
        self.cls = cls
        self.parser = _OneLineParser(prog=prog, description=description, allow_abbrev=False)
        self.parser.add_argument("--config", default=None, help="a YAML file of settings (flat keys: the flag names)")
        self.applies: dict[str, dict[str, tuple[Any, ...]]] = {}
        self.dests: dict[str, str] = {}  # flag dest → where it goes ("field" or "option")
        self.bounds = bounds_of(cls)  # the games' options add theirs
        hints = self.hints = typing.get_type_hints(cls)
        groups: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            info = _info(f)
            if not info["flag"]:
                continue
            applies = info["applies"]
            title = (
                "only with " + ", ".join(f"--{k.replace('_', '-')} {'|'.join(map(str, v))}" for k, v in applies.items())
                if applies
                else None
            )
            target = self.parser if title is None else groups.setdefault(title, self.parser.add_argument_group(title))
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            self._add(target, f.name, hints[f.name], default, f.metadata.get("help", ""), info["choices"])
            self.applies[f.name] = applies
            self.dests[f.name] = "field"
        if issubclass(cls, GameArgs):
            self._add_game_options(extra_groups)

    def _add(self, target: Any, name: str, hint: Any, default: Any, help_text: str, choices: Any) -> None:
        flags = [f"--{name.replace('_', '-')}"] + ([f"--{name}"] if "_" in name else [])
        kind, is_list = _type_of(hint)
        help_text = (help_text or "").replace("%", "%%")
        if kind is bool:
            target.add_argument(
                *flags, dest=name, type=_bool, nargs="?", const=True, default=default, help=help_text, metavar="BOOL"
            )
            target.add_argument(
                f"--no-{name.replace('_', '-')}", dest=name, action="store_false", help=argparse.SUPPRESS
            )
        elif is_list:
            # ``--splits id ood-rule`` (Hugging Face) and ``--splits id,ood-rule`` both work.
            target.add_argument(
                *flags, dest=name, type=kind, nargs="+", default=default, help=help_text, action=_ListAction
            )
        else:
            target.add_argument(*flags, dest=name, type=kind, default=default, help=help_text, choices=choices)

    def _add_game_options(self, extra_groups: Sequence[str]) -> None:
        from gengap.core.game import game_class, game_options, load_games

        for name in sorted(load_games()):
            cls = game_class(name)
            fields = list(game_options(cls))
            for group in extra_groups:
                extra = getattr(cls, group, None)
                if extra is not None:
                    fields += [f for f in dataclasses.fields(extra) if "help" in f.metadata]
            if not fields:
                continue
            hints: dict[str, Any] = {}
            for owner in {cls, *(getattr(cls, g) for g in extra_groups if getattr(cls, g, None) is not None)}:
                hints.update(typing.get_type_hints(owner))
            title = f"{cls.title or name} options (only with --game {name})"
            group_parser = self.parser.add_argument_group(title)
            for f in fields:
                if f.name in self.dests and self.dests[f.name] == "option":  # another game has the same option
                    self.applies[f.name]["game"] += (name,)
                    continue
                # Default None: a game option left unset takes the game's own default, declared once there.
                self._add(group_parser, f.name, hints[f.name], None, f.metadata.get("help", ""), None)
                if f.metadata.get("bounds"):
                    self.bounds[f.name] = Bounds.parse(f.metadata["bounds"])
                self.applies[f.name] = {"game": (name,)}
                self.dests[f.name] = "option"

    # ------------------------------------------------------------------------------------------------ parse

    def parse(self, argv: Sequence[str]) -> Any:
        """Flags over ``--config`` YAML over defaults → the config; :class:`ConfigError` in one line otherwise."""
        argv = list(argv)
        yaml_values = self._read_yaml(argv)
        for action in self.parser._actions:
            if action.dest in yaml_values and action.option_strings[0].startswith("--no-") is False:
                action.default = self._typed(action, yaml_values[action.dest])
        ns, unknown = self.parser.parse_known_args(argv)
        if unknown:
            bad = next((u for u in unknown if u.startswith("-")), unknown[0])
            raise ConfigError(f"unknown option {bad}{self._nearest(bad.lstrip('-'))}")
        explicit = set(yaml_values) | self._given_on_command_line(argv)
        for dest in sorted(explicit):
            for key, allowed in self.applies.get(dest, {}).items():
                value = getattr(ns, key)
                if value not in allowed:
                    flag, selector = f"--{dest.replace('_', '-')}", f"--{key.replace('_', '-')}"
                    applicable = [d for d in self.dests if self._applies(d, ns)]
                    raise ConfigError(
                        f"{flag} does not apply here: it is for {selector} {'|'.join(map(str, allowed))}"
                        f", and this run has {selector} {value}{self._nearest(dest, applicable)}"
                    )
        ns.__dict__.pop("_lists_seen", None)
        kwargs: dict[str, Any] = {}
        options: dict[str, Any] = {}
        for dest, where in self.dests.items():
            value = getattr(ns, dest)
            if where == "field":
                kwargs[dest] = value
            elif value is not None:
                options[dest] = value
        if options:
            kwargs["game_options"] = options
        from_yaml = set(yaml_values) - self._given_on_command_line(argv)
        sources = {dest: str(self.yaml_path) for dest in from_yaml}
        for dest, value in kwargs.items():  # ``key: null`` in YAML for a setting that must have a value
            if value is None and type(None) not in typing.get_args(self.hints[dest]):
                raise ConfigError(f"{_flag(dest)} needs a value, got null (from {self.yaml_path})")
        out_of_bounds(self.bounds, {**kwargs, **options}, sources)
        try:
            return self.cls(**kwargs)
        except TypeError as err:  # a YAML value of the wrong kind reaching a dataclass
            raise ConfigError(str(err)) from None

    def _read_yaml(self, argv: list[str]) -> dict[str, Any]:
        """The ``--config`` file's values (and ``self.yaml_path``); ``argv`` loses the ``--config`` flag."""
        self.yaml_path: Path | None = None
        given = [i for i, a in enumerate(argv) if a == "--config" or a.startswith("--config=")]
        if not given:
            return {}
        if len(given) > 1:
            raise ConfigError("--config is given twice; pass one YAML file (flags override its values)")
        i = given[0]
        if argv[i].startswith("--config="):
            path = Path(argv[i].split("=", 1)[1])
            del argv[i]
        else:
            if i + 1 >= len(argv):
                raise ConfigError("--config needs a YAML file")
            path = Path(argv[i + 1])
            del argv[i : i + 2]
        if not path.is_file():
            raise ConfigError(f"--config {path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
        self.yaml_path = path
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML ({str(err).splitlines()[0]})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"--config {path} is not a text file; pass a YAML file of settings") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of settings (key: value lines)")
        values = {}
        for key, value in data.items():
            dest = str(key).replace("-", "_")
            if dest not in self.dests:
                raise ConfigError(f"{path}: unknown key {key!r}{self._nearest(dest)}")
            values[dest] = value
        return values

    @staticmethod
    def _typed(action: argparse.Action, value: Any) -> Any:
        """A YAML value checked as its flag would be (``n: abc`` fails as ``--n abc`` does)."""
        if value is None:
            return value
        bad = ConfigError(f"--config: {action.dest}: invalid value {value!r}")
        if action.nargs == "+":
            if not isinstance(value, str | list):
                raise bad
            items = value.split(",") if isinstance(value, str) else value
            if any(isinstance(v, dict | list) for v in items):
                raise bad
            value = [v.strip() if isinstance(v, str) else v for v in items]
        elif isinstance(value, dict | list):
            raise bad
        convert = action.type if callable(action.type) and action.type is not str else None
        if convert is None:
            return [str(v) for v in value] if action.nargs == "+" else (value if isinstance(value, str) else str(value))
        try:
            if action.nargs == "+":
                return [convert(v) if isinstance(v, str) else v for v in value]
            if convert is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            if convert is _bool:
                return value if isinstance(value, bool) else convert(str(value))
            if isinstance(value, str):
                return convert(value)
            if convert in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError
            return convert(value)
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            raise ConfigError(f"--config: {action.dest}: invalid value {value!r}") from None

    def _given_on_command_line(self, argv: list[str]) -> set[str]:
        given = set()
        by_flag = {s: a.dest for a in self.parser._actions for s in a.option_strings}
        for token in argv:
            if token.startswith("--"):
                flag = token.split("=", 1)[0]
                if flag in by_flag:
                    given.add(by_flag[flag])
        return given

    def _applies(self, dest: str, ns: Any) -> bool:
        return all(getattr(ns, key) in allowed for key, allowed in self.applies.get(dest, {}).items())

    def _nearest(self, name: str, among: Sequence[str] | None = None) -> str:
        name = name.split("=", 1)[0].replace("-", "_")
        close = difflib.get_close_matches(name, list(self.dests if among is None else among), n=1, cutoff=0.6)
        return f" (did you mean --{close[0].replace('_', '-')}?)" if close else ""

    def print_help(self) -> None:
        self.parser.print_help(sys.stdout)


def parse_config(cls: type[T], argv: Sequence[str], prog: str = "gengap", extra_groups: Sequence[str] = ()) -> T:
    """Parse ``argv`` (flags and ``--config``) into ``cls`` and check that its outputs can be written: the
    boundary of every command, so that a bad value fails in one line before any model is loaded."""
    cfg = ConfigParser(cls, prog, extra_groups=extra_groups).parse(argv)
    check_outputs(cfg)
    return cfg
