"""What a game is, and the registry every command finds games in.

A game is a frozen dataclass of settings whose instances deal episodes (the
:class:`~gengap.core.episode.Episode` contract). Every game has the common settings ``split``, ``vision``,
``style``, ``verify_iter`` and ``image_size``; its defaults (the paper's verification budget: 5 for
GeneralPoints, 2 for V-IRL) are the dataclass defaults, declared once, there. Fields of its own that carry
``metadata={"help": ...}`` are *options* a user may set (V-IRL's ``world``); the command line offers them as
flags that apply to that game only.

Everything else a command needs it asks the game through :class:`GameBase`: named splits, the fixed
evaluation episodes per (split, seed) and how many the paper plays, expert data, scripted policies (the
instruments that bracket what a model can do) and the metrics of its episode records. Nothing outside a
game's package asks which game it is: a new game is a package plus one :func:`register_game` line in
:mod:`gengap.games`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from gengap.core.episode import Episode, Policy, episode_seed
from gengap.core.stats import pct, proportion

COMMON_SETTINGS = ("split", "vision", "style", "verify_iter", "image_size")
"""Settings every game has; a game's other help-carrying fields are its own options."""


class GameBase:
    """Defaults of the game contract; a game overrides what it knows better.

    A subclass is a frozen dataclass with at least the :data:`COMMON_SETTINGS` fields and implements
    :meth:`episode` and :meth:`split_names`. The defaults give any game evaluation (success, return and
    per-attempt outcomes with Wilson intervals), RL and a Gymnasium-free episode loop.
    """

    name: ClassVar[str] = ""
    """The registry name (``gp``, ``virl``); set by :func:`register_game`."""
    title: ClassVar[str] = ""
    """How reports name the game (``GeneralPoints``)."""
    EVAL_EPISODES: ClassVar[dict[str, int]] = {}
    """Episodes per split in the paper's evaluation (``"*"``: any split not listed)."""
    DATA_KINDS: ClassVar[tuple[str, ...]] = ()
    """Kinds of expert data :meth:`write_dataset` writes (first: the default)."""
    DataOptions: ClassVar[type | None] = None
    """A dataclass of the game's own expert-data settings (fields with ``help`` become flags), or ``None``."""
    ShowOptions: ClassVar[type | None] = None
    """Likewise for :meth:`show`."""
    METRICS: ClassVar[str | None] = None
    """A module with ``summarise(records)`` and ``table_row(summary)`` (imported on first use); ``None``: the
    defaults below (success, return and outcomes)."""
    POLICIES: ClassVar[str | None] = None
    """``"module:NAME"`` of a dict of scripted policy factories (imported on first use)."""

    # ---------------------------------------------------------------- what every game must say

    def episode(self, seed: int) -> Episode:
        """The episode of ``seed`` under these settings (deterministic)."""
        raise NotImplementedError

    @classmethod
    def split_names(cls) -> dict[str, str]:
        """Named splits → one-line descriptions."""
        raise NotImplementedError

    # ---------------------------------------------------------------- defaults

    def with_split(self, split: Any) -> Any:
        """The same settings on another split (a name, or whatever the game's split type accepts)."""
        return dataclasses.replace(self, split=split)  # type: ignore[type-var]

    @property
    def split_name(self) -> str:
        split = self.split  # type: ignore[attr-defined]
        return split if isinstance(split, str) else split.name

    def episodes(self, seed: int, n: int) -> list[Episode]:
        """The evaluation set of ``(split, seed)``: episode ``k`` is ``episode(episode_seed(seed, k))``."""
        return [self.episode(episode_seed(seed, k)) for k in range(n)]

    def eval_episodes(self) -> int:
        """How many episodes the paper evaluates on this split."""
        table = self.EVAL_EPISODES
        return int(table.get(self.split_name, table.get("*", 100)))

    def eval_splits(self) -> list[str]:
        """The splits an evaluation plays when none are named: the paper's ID and OOD splits."""
        return list(self.split_names())

    def max_turns(self) -> int:
        """An upper bound on the turns of one episode (sizes RL completions)."""
        return int(self.verify_iter)  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (recorded beside every result)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else _plain(value)
        return out

    @classmethod
    def policies(cls) -> dict[str, Callable[[], Policy]]:
        """Scripted policies by name (factories): instruments for checking the measurements, not models."""
        if cls.POLICIES is None:
            return {}
        module, _, attr = cls.POLICIES.partition(":")
        return dict(getattr(importlib.import_module(module), attr))

    @classmethod
    def summarise(cls, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """Metrics of one split's episode records (:meth:`Episode.record`); rates with Wilson intervals."""
        if cls.METRICS is not None:
            return importlib.import_module(cls.METRICS).summarise(records)
        rows = list(records)
        return {
            "episodes": len(rows),
            "success": proportion([bool(r["success"]) for r in rows]).to_dict(),
            "mean_return": sum(r["return"] for r in rows) / len(rows) if rows else float("nan"),
            "outcomes": dict(Counter(o for r in rows for o in r["outcomes"])),
            "outcomes_by_attempt": outcomes_by_attempt(r["outcomes"] for r in rows),
        }

    @classmethod
    def table_row(cls, summary: dict[str, Any]) -> dict[str, Any]:
        """The human-readable columns of one summary (percent with 95 % intervals)."""
        if cls.METRICS is not None:
            return importlib.import_module(cls.METRICS).table_row(summary)
        return {"episodes": summary["episodes"], "success %": pct(summary["success"])}

    @classmethod
    def headline(cls) -> str:
        """The summary key of the game's headline metric (the study's y-axis)."""
        return "success"

    def write_dataset(self, out: str | Path, *, n: int, seed: int, kind: str, progress: bool, **options: Any) -> Path:
        """Write ``n`` expert examples of ``kind`` to ``out`` (JSON lines), resumably."""
        raise ValueError(f"the game {self.name!r} has no expert data")

    def show(self, seed: int, out: str | Path, **options: Any) -> str:
        """Render what the model sees for the episode of ``seed`` under ``out``; return a line for the user."""
        raise ValueError(f"the game {self.name!r} has nothing to show")

    def play_in_terminal(self, seed: int) -> bool:
        """Let a person play the episode of ``seed`` against the verifier; return whether it was won."""
        raise ValueError(f"the game {self.name!r} cannot be played in the terminal")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def outcomes_by_attempt(outcome_lists: Iterable[Sequence[str]]) -> list[dict[str, int]]:
    """Outcome counts of the 1st, 2nd, … answer of each episode (``[{"correct": 40, ...}, ...]``)."""
    by: list[Counter[str]] = []
    for outcomes in outcome_lists:
        for i, o in enumerate(outcomes):
            if i == len(by):
                by.append(Counter())
            by[i][o] += 1
    return [dict(c) for c in by]


def game_options(cls: type) -> list[dataclasses.Field]:
    """The game's own settings a user may set (help-carrying fields beyond the common ones)."""
    return [f for f in dataclasses.fields(cls) if f.name not in COMMON_SETTINGS and "help" in f.metadata]


# -------------------------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class GameEntry:
    name: str
    entry_point: str
    """``"module:Class"``; imported on first use, so registering costs nothing."""
    env: str | None = None
    """Gymnasium environment class ``"module:Class"`` (registered as ``gengap/<env_name>-L-v0`` and ``-VL-v0``)."""
    env_name: str | None = None

    def load(self) -> type:
        module, _, attr = self.entry_point.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        cls.name = self.name
        return cls


GAMES: dict[str, GameEntry] = {}


def register_game(name: str, entry_point: str, *, env: str | None = None, env_name: str | None = None) -> None:
    """Make a game known to every command (``--game name``), and its Gymnasium environments to ``gym.make``."""
    GAMES[name] = GameEntry(name, entry_point, env, env_name)
    if env is not None:
        import gymnasium

        for suffix, vision in (("L", False), ("VL", True)):
            env_id = f"gengap/{env_name or name}-{suffix}-v0"
            if env_id not in gymnasium.registry:
                gymnasium.register(env_id, entry_point=env, kwargs={"vision": vision})


def load_games() -> dict[str, GameEntry]:
    """The registry with the built-in games registered (``gengap.games``) and any registered since."""
    import gengap.games  # noqa: F401  (the built-in registrations)

    return GAMES


def game_class(name: str) -> type:
    """The class registered as ``name``; a one-line error naming the registered games otherwise."""
    load_games()
    if name not in GAMES:
        import difflib

        close = difflib.get_close_matches(name, list(GAMES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown game {name!r}{hint}; registered games: {', '.join(sorted(GAMES))}")
    return GAMES[name].load()


def make_game(name: str, **settings: Any) -> Any:
    """Settings of game ``name``; a setting given as ``None`` takes the game's own default."""
    cls = game_class(name)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k, v in settings.items() if v is not None and k not in known)
    if unknown:
        raise ValueError(f"the game {name!r} has no setting {unknown[0]!r}; its settings: {', '.join(sorted(known))}")
    return cls(**{k: v for k, v in settings.items() if v is not None})
