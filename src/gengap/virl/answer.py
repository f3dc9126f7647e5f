"""Read a navigation answer: JSON (``current observation``, ``current instruction``, ``action``) or
``key: value`` lines, with the same tolerance as GeneralPoints and never by evaluating text.

Reading is linear in the answer's length (answers longer than :data:`MAX_ANSWER_CHARS`, shared with
GeneralPoints, are not read), and an answer that gives its action more than once with different actions is
unreadable, as GeneralPoints treats a repeated formula.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from gengap.core.lenient_json import MAX_ANSWER_CHARS, MAX_READS, find_key_values, find_object

__all__ = ["MAX_ANSWER_CHARS", "VIRLAnswer", "claims_intersection", "normalise_action", "parse_answer"]
MAX_ACTION_CHARS = 80
"""An action longer than this (spaces around it not counted) is not an action: it keeps matching constant-time."""
_KEYS = {
    "current observation": "observation",
    "observation": "observation",
    "current instruction": "instruction",
    "instruction": "instruction",
    "action": "action",
}
_SIMPLE = re.compile(r"(forward|stop)\s*+(?:\(\s*+\))?+", re.IGNORECASE)
_TURN = re.compile(r"turn_direction\s*+\(\s*+[\"']?+\s*+([A-Za-z _\-]{1,30}?)\s*+[\"']?+\s*+\)", re.IGNORECASE)
# A negation before "intersection" in the same clause. Each clause is scanned once: the match may start only
# at a clause's beginning, and the atomic group commits to the clause's first negation word.
_NEGATED = re.compile(
    r"(?:^|(?<=[.;,]))(?>[^.;,]*?\b(?:no|not|without|never|isn't|aren't)\b)[^.;,]*\bintersections?\b",
    re.IGNORECASE,
)
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
    text = text.strip()
    if len(text) > MAX_ACTION_CHARS:
        return None
    m = _SIMPLE.fullmatch(text)
    if m:
        return f"{m.group(1).lower()}()"
    m = _TURN.fullmatch(text)
    if m:
        x = re.sub(r"[\s_\-]+", " ", m.group(1).strip().lower())
        for joined in ("north east", "north west", "south east", "south west"):
            x = x.replace(joined, joined.replace(" ", ""))
        return f"turn_direction({x})"
    return None


def claims_intersection(observation: str) -> bool:
    """Does an observation say the agent is at an intersection? ("no intersection here" does not.)"""
    return bool(_INTERSECTION.search(observation)) and not _NEGATED.search(observation)


def _same_action(values: list[str]) -> bool:
    """Do all given actions mean the same (``forward`` and ``Forward()`` do)?"""
    return len({normalise_action(v) or " ".join(v.split()).lower() for v in values}) < 2


def parse_answer(text: object) -> VIRLAnswer:
    """Read an answer; never raises, whatever ``text`` is."""
    if not isinstance(text, str):
        return VIRLAnswer(None, None, None, None, "the answer is not text")
    if len(text) > MAX_ANSWER_CHARS:
        return VIRLAnswer(None, None, None, None, f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    fields: dict[str, str] = {}
    actions: list[str] = []
    obj = find_object(text)
    if obj is not None:
        for key, value in islice(obj.pairs, MAX_READS):
            name = _KEYS.get(str(key).strip().lower().replace("_", " "))
            if name and value is not None:
                value = value if isinstance(value, str) else str(value)
                if name == "action":
                    actions.append(value)
                fields.setdefault(name, value)
    if not actions:
        for key, value in find_key_values(text, _KEYS):
            if _KEYS[key] == "action":
                actions.append(value)
            fields.setdefault(_KEYS[key], value)
    observation, instruction = fields.get("observation"), fields.get("instruction")
    if not _same_action(actions):
        shown = ", ".join(repr(a[:30]) for a in actions[:3])
        error = f"the answer gives more than one action ({shown}); give exactly one"
        return VIRLAnswer(observation, instruction, None, actions[0], error)
    raw = fields.get("action")
    if raw is None:
        return VIRLAnswer(observation, instruction, None, None, "no action found")
    action = normalise_action(raw)
    error = None if action is not None else f"{raw[:60]!r} is not an action"
    return VIRLAnswer(observation, instruction, action, raw, error)
