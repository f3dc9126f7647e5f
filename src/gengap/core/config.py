"""Configs a user can write down: dataclasses that generate the command line and read YAML, the TRL way.

Each kind of run (evaluation, data, SFT, RL, pretraining) has one dataclass whose fields carry a one-line
``help``. :class:`ConfigParser` (a :class:`trl.TrlParser`-style :class:`transformers.HfArgumentParser`; here
built on ``argparse`` alone so that the games install without ``transformers``) turns the fields into flags,
reads ``--config run.yaml`` (flat keys, the fields' names) and lets the command line override it. What it refuses,
each in one line naming the key and the nearest valid one:

* a key or flag that does not exist;
* a key that does not apply to this run: a field declared with ``applies={"algo": ("ppo",)}`` (a PPO-only
  setting under ``--algo grpo``), or another game's option.

Field metadata declared once, on the field (:func:`arg`): ``help``; ``resumable`` (may change when a run
resumes: it does not shape the result, e.g. ``output_dir``, ``save_steps``); ``applies``. Games add their own
options (V-IRL's ``--world``) to every config that has the game settings (:class:`GameArgs`); they apply to
that game only.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
import typing
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_KEY = "gengap"


class ConfigError(ValueError):
    """A user's config or flags are wrong; the message is one line that says what to fix."""


def arg(
    default: Any = MISSING,
    help: str = "",
    *,
    factory: Any = None,
    resumable: bool = False,
    applies: dict[str, tuple[Any, ...]] | None = None,
    flag: bool = True,
    choices: Sequence[Any] | None = None,
) -> Any:
    """A config field: ``help`` (one line), and where it may change or apply (see the module docstring)."""
    meta = {"help": help, _KEY: {"resumable": resumable, "applies": applies or {}, "flag": flag, "choices": choices}}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _info(f: dataclasses.Field) -> dict[str, Any]:
    return f.metadata.get(_KEY, {"resumable": False, "applies": {}, "flag": True, "choices": None})


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
        None, "attempts per episode (GP) or per route point (V-IRL); default: the game's (the paper's: GP 5, V-IRL 2)"
    )
    image_size: int | None = arg(None, "image size in pixels for the vision form (default: the game's)")
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

    temperature: float = arg(0.0, "sampling temperature; 0 = greedy")
    top_p: float = arg(1.0, "nucleus sampling: keep the smallest set of tokens with this much probability")
    max_new_tokens: int = arg(64, "new tokens per answer (one turn)")

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
    lora_r: int = arg(16, "LoRA rank")
    lora_alpha: int = arg(32, "LoRA scaling (alpha)")

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
        hints = typing.get_type_hints(cls)
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
        try:
            return self.cls(**kwargs)
        except TypeError as err:  # a YAML value of the wrong kind reaching a dataclass
            raise ConfigError(str(err)) from None

    def _read_yaml(self, argv: list[str]) -> dict[str, Any]:
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
            raise ConfigError(f"--config {path}: no such file")
        import yaml

        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML ({str(err).splitlines()[0]})") from None
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
    """Parse ``argv`` (flags and ``--config``) into ``cls``."""
    return ConfigParser(cls, prog, extra_groups=extra_groups).parse(argv)
