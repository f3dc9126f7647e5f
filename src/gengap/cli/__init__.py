"""The ``gengap`` command line: one module per command group, every command's flags generated from its config.

``gengap <command> [flags] [--config run.yaml]``; a game's own commands also read ``gengap <game> <command>``
(``gengap gp eval`` is ``gengap eval --game gp``). Errors a user can cause end in one line that says what to fix.
"""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("gengap.cli.evaluate", "evaluate models or scripted policies on a game's splits"),
    "data": ("gengap.cli.games", "write expert data (SFT conversations, V-IRL routes) as JSON lines"),
    "show": ("gengap.cli.games", "render what the model sees for one episode as PNG files"),
    "play": ("gengap.cli.games", "play one episode in the terminal against the verifier"),
    "splits": ("gengap.cli.games", "list a game's named splits"),
    "games": ("gengap.cli.games", "list the registered games"),
    "pretrain": ("gengap.cli.train", "pretrain a built-in base model on the general-skill corpus"),
    "sft": ("gengap.cli.train", "supervised fine-tuning on expert conversations (TRL's SFTTrainer)"),
    "rl": ("gengap.cli.rl", "RL from Init with the games' verifiers: turn-level PPO or GRPO"),
}
GAME_COMMANDS = ("eval", "data", "show", "play", "splits")
"""Commands that also read ``gengap <game> <command>``."""
EXTRAS = {"pyrosm": "osm", "matplotlib": "report"}
"""Which extra of ``pip install 'gengap[...]'`` brings a module; any other missing module is the training extra."""


def _usage() -> str:
    from gengap.core.game import load_games

    games = load_games()
    lines = ["usage: gengap <command> [flags] [--config run.yaml]   (gengap <command> --help for its flags)", ""]
    lines += [f"  {name:10} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", f"  gengap <game> <command> = gengap <command> --game <game>: games {', '.join(sorted(games))}; "]
    lines += [f"  commands {', '.join(GAME_COMMANDS)}"]
    return "\n".join(lines)


def _route(argv: list[str]) -> list[str]:
    """``gengap gp eval ...`` → ``gengap eval --game gp ...``."""
    from gengap.core.game import load_games

    if len(argv) >= 1 and argv[0] in load_games() and argv[0] not in COMMANDS:
        game = argv[0]
        if len(argv) < 2 or argv[1] not in GAME_COMMANDS:
            raise ValueError(f"gengap {game} takes one of: {', '.join(GAME_COMMANDS)}")
        if any(a == "--game" or a.startswith("--game=") for a in argv[2:]):
            raise ValueError(f"`gengap {game} {argv[1]}` already names the game; drop --game or use `gengap {argv[1]}`")
        return [argv[1], "--game", game, *argv[2:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ok = False
    try:
        if not argv or argv[0] in ("-h", "--help"):
            print(_usage())
            return 0 if argv else 2
        argv = _route(argv)
        command, rest = argv[0], argv[1:]
        if command not in COMMANDS:
            import difflib

            close = difflib.get_close_matches(command, list(COMMANDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown command {command!r}{hint}; `gengap --help` lists them")
        module = importlib.import_module(COMMANDS[command][0])
        code = int(module.run(command, rest))
        ok = True
        return code
    except ValueError as err:
        print(f"gengap: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except ImportError as err:  # a command on an install without the extra it needs
        print(f"gengap: error: {_missing_module(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (``| head``): nothing left to say
        sys.stderr.close()
        return 0
    except OSError as err:  # ours (a missing file, said in words) or the system's (a path it cannot write)
        print(f"gengap: error: {_os_error(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gengap: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        _end_distributed(barrier=ok)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _missing_module(err: ImportError) -> str:
    """Which package to install for a missing module, and from which extra."""
    missing = getattr(err, "name", None)
    if not missing:  # raised with a message of its own (``pip install vllm``)
        return _one_line(err)
    extra = EXTRAS.get(missing.split(".")[0], "train")
    return f"this needs {missing}, part of the {extra} extra: pip install 'gengap[{extra}]'"


_OS_ERRORS = {
    errno.EACCES: "permission denied: {path}; choose a path you can write to",
    errno.EPERM: "not permitted: {path}; choose a path you can write to",
    errno.EROFS: "{path} is on a read-only file system; choose a path you can write to",
    errno.ENOTDIR: "{path}: a part of this path is a file, not a folder; pass a path under a folder",
    errno.EISDIR: "{path} is a folder where a file is expected; pass a file path",
    errno.EEXIST: "{path} already exists and is not a folder; pass a folder path or remove that file",
    errno.ENOSPC: "no space left on the device holding {path}; free some space, then rerun to resume",
    errno.ENOENT: "no such file or folder: {path}",
    errno.ENAMETOOLONG: "path too long: {path}",
}


def _os_error(err: OSError) -> str:
    """An :class:`OSError` as one line naming the path: our own have a message, the system's an ``errno``."""
    if err.errno is None or err.filename is None:
        return _one_line(err)
    text = _OS_ERRORS.get(err.errno, "{path}: {reason}")
    return " ".join(text.format(path=err.filename, reason=(err.strerror or "").lower()).split())


def _end_distributed(barrier: bool) -> None:
    """Tear down a process group (from ``accelerate launch``/``torchrun``) before the interpreter exits.

    Left to interpreter shutdown, gloo's threads can abort a process ("terminate called without an active
    exception") after all work is done, and the launcher then reports the whole run as failed. No barrier after
    a failure: the other processes may never reach it.
    """
    dist = sys.modules.get("torch.distributed")  # never import torch for commands that did not
    if dist is not None and dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
