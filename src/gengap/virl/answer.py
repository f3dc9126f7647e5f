"""Read a navigation answer: JSON (``current observation``, ``current instruction``, ``action``) or
``key: value`` lines, with the same tolerance as GeneralPoints and never by evaluating text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gengap.core.lenient_json import find_key_lines, find_object

MAX_ANSWER_CHARS = 8192
_KEYS = {
    "current observation": "observation",
    "observation": "observation",
    "current instruction": "instruction",
    "instruction": "instruction",
    "action": "action",
}
_SIMPLE = re.compile(r"^\s*(forward|stop)\s*(?:\(\s*\))?\s*$", re.IGNORECASE)
_TURN = re.compile(r"^\s*turn_direction\s*\(\s*[\"']?\s*([A-Za-z _\-]{1,30}?)\s*[\"']?\s*\)\s*$", re.IGNORECASE)
_NEGATED = re.compile(r"\b(no|not|without|never|isn't|aren't)\b[^.;,]*\bintersections?\b", re.IGNORECASE)
_INTERSECTION = re.compile(r"\bintersections?\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class VIRLAnswer:
    observation: str | None
    instruction: str | None
    action: str | None
    """The action in canonical form (``forward()``, ``stop()``, ``turn_direction(x)``), or ``None``."""
    raw_action: str | None
    error: str | None = None


def normalise_action(text: str) -> str | None:
    """``forward``, ``Forward()``, ``turn_direction('North East')`` … → canonical form; ``None`` if not an action."""
    m = _SIMPLE.match(text)
    if m:
        return f"{m.group(1).lower()}()"
    m = _TURN.match(text)
    if m:
        x = re.sub(r"[\s_\-]+", " ", m.group(1).strip().lower())
        for joined in ("north east", "north west", "south east", "south west"):
            x = x.replace(joined, joined.replace(" ", ""))
        return f"turn_direction({x})"
    return None


def claims_intersection(observation: str) -> bool:
    """Does an observation say the agent is at an intersection? ("no intersection here" does not.)"""
    return bool(_INTERSECTION.search(observation)) and not _NEGATED.search(observation)


def parse_answer(text: object) -> VIRLAnswer:
    if not isinstance(text, str):
        return VIRLAnswer(None, None, None, None, "the answer is not text")
    if len(text) > MAX_ANSWER_CHARS:
        return VIRLAnswer(None, None, None, None, f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    fields: dict[str, str] = {}
    obj = find_object(text)
    if obj is not None:
        for key, value in obj.items():
            name = _KEYS.get(str(key).strip().lower().replace("_", " "))
            if name and name not in fields and value is not None:
                fields[name] = value if isinstance(value, str) else str(value)
    if "action" not in fields:
        for key, value in find_key_lines(text, frozenset(_KEYS)).items():
            fields.setdefault(_KEYS[key], value)
    raw = fields.get("action")
    if raw is None:
        return VIRLAnswer(fields.get("observation"), fields.get("instruction"), None, None, "no action found")
    action = normalise_action(raw)
    error = None if action is not None else f"{raw[:60]!r} is not an action"
    return VIRLAnswer(fields.get("observation"), fields.get("instruction"), action, raw, error)
