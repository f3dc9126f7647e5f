"""The commands every game answers: ``data``, ``show``, ``play``, ``splits`` (and ``games``, the registry)."""

from __future__ import annotations

from dataclasses import dataclass

from gengap.core.config import GameArgs, arg, check_bounds, parse_config
from gengap.core.io import read_jsonl


@dataclass
class DataConfig(GameArgs):
    """Every setting of ``gengap data``."""

    split: str | None = arg(None, "the split the data come from (default: the game's training split)")
    kind: str | None = arg(
        None, "what to write: GP optimal|suboptimal; V-IRL routes|optimal|suboptimal (default: the game's first)"
    )
    n: int = arg(
        1000,
        "how many examples (GP: conversations; V-IRL: routes), at most 10^7; rerunning with the same or a larger "
        "--n resumes or extends the file, a smaller one than the file holds is refused",
        bounds="[1, 1e7]",
    )
    seed: int = arg(0, "seed: the same seed writes the same data")
    out: str = arg(
        "runs/data/train.jsonl", "the JSON-lines file to write (rerun to resume)", resumable=True, output="file"
    )
    quiet: bool = arg(False, "no progress bar", resumable=True)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass
class ShowConfig(GameArgs):
    """Every setting of ``gengap show``."""

    split: str | None = arg(None, "the split (default: the game's training split)")
    seed: int = arg(0, "the episode's seed")
    out: str = arg("runs/show", "output PNG file or folder", output="any")


@dataclass
class PlayConfig(GameArgs):
    """Every setting of ``gengap play``."""

    split: str | None = arg(None, "the split (default: the game's training split)")
    seed: int = arg(0, "the episode's seed")


@dataclass
class SplitsConfig:
    game: str = arg("gp", "the game")


@dataclass
class NoConfig:
    """``gengap games`` takes no settings."""


def _options_of(cfg: GameArgs, group: str) -> dict:
    """The values of the game's ``group`` options (e.g. ``DataOptions``) among ``cfg.game_options``."""
    from dataclasses import fields

    from gengap.core.game import game_class

    extra = getattr(game_class(cfg.game), group, None)
    names = {f.name for f in fields(extra)} if extra is not None else set()
    return {k: v for k, v in cfg.game_options.items() if k in names}


def run(command: str, argv: list[str]) -> int:
    prog = f"gengap {command}"
    if command == "data":
        cfg = parse_config(DataConfig, argv, prog=prog, extra_groups=("DataOptions",))
        game = cfg.make_game(cfg.split)
        kind = cfg.kind or (game.DATA_KINDS[0] if game.DATA_KINDS else "")
        if game.DATA_KINDS and kind not in game.DATA_KINDS:
            raise ValueError(f"--kind must be one of {', '.join(game.DATA_KINDS)} for --game {cfg.game}, not {kind!r}")
        options = _options_of(cfg, "DataOptions")
        path = game.write_dataset(cfg.out, n=cfg.n, seed=cfg.seed, kind=kind, progress=not cfg.quiet, **options)
        rows = sum(1 for _ in read_jsonl(path))  # what is on file, not what was asked for
        print(
            f"{path} holds {cfg.n} examples ({rows} rows, kind {kind}) of {game.title or cfg.game}, "
            f"split {game.split_name}"
        )
        return 0
    if command == "show":
        cfg = parse_config(ShowConfig, argv, prog=prog, extra_groups=("ShowOptions",))
        print(cfg.make_game(cfg.split).show(cfg.seed, cfg.out, **_options_of(cfg, "ShowOptions")))
        return 0
    if command == "play":
        cfg = parse_config(PlayConfig, argv, prog=prog)
        return 0 if cfg.make_game(cfg.split).play_in_terminal(cfg.seed) else 1
    if command == "splits":
        from gengap.core.game import game_class

        cfg = parse_config(SplitsConfig, argv, prog=prog)
        for name, text in game_class(cfg.game).split_names().items():
            print(f"{name:16} {text}")
        return 0
    if command == "games":
        from gengap.core.game import game_class, load_games

        games = load_games()
        parse_config(NoConfig, argv, prog=prog)
        for name in sorted(games):
            cls = game_class(name)
            print(
                f"{name:8} {cls.title:14} verify_iter {cls.__dataclass_fields__['verify_iter'].default}; "
                f"splits: {', '.join(cls.split_names())}"
            )
        return 0
    raise AssertionError(command)
