"""Command-line options generated from a config dataclass, so a flag and its config field never drift apart.

``--per-device-train-batch-size`` sets ``per_device_train_batch_size``; a field's docstring-style comment is
not available at run time, so help texts come from ``field(metadata={"help": ...})`` when given.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f.metadata.get("help", "").replace("%", "%%")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif typing.get_origin(kind) is list:
            (item,) = typing.get_args(kind)
            parser.add_argument(flag, type=item, action="append", default=None, help=f"{help_text} (repeatable)")
        else:
            parser.add_argument(flag, type=kind, default=default, help=help_text or f"default: {default}")


def from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if hasattr(args, f.name) and getattr(args, f.name) is not None:
            kwargs[f.name] = getattr(args, f.name)
    kwargs.update(overrides)
    return cls(**kwargs)
