"""Face-value rules: what each rank counts as. The rule is stated in the prompt, so a model can read it.

The study's training rule counts J, Q and K as 10; its rule-OOD split counts them as 11, 12 and 13. Every
other variant (all faces 5, large numbers, …) is just another :class:`Rule`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gengap.gp.cards import RANKS


@dataclass(frozen=True, slots=True)
class Rule:
    """Values of the 13 ranks, in the order A, 2, …, 10, J, Q, K."""

    values: tuple[int, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.values) != 13 or not all(isinstance(v, int) and v > 0 for v in self.values):
            raise ValueError(f"a rule needs 13 positive integer values (A..K), got {self.values!r}")

    @classmethod
    def faces(cls, j: int, q: int | None = None, k: int | None = None, name: str = "") -> Rule:
        """A, 2–10 at face value; J/Q/K as given (one number means all three count the same)."""
        q = j if q is None else q
        k = j if k is None else k
        return cls((*range(1, 11), j, q, k), name or (f"faces-{j}" if j == q == k else f"faces-{j}-{q}-{k}"))

    @classmethod
    def scaled(cls, factor: int, base: Rule | None = None) -> Rule:
        """Every card worth ``factor`` times its value under ``base``: the large-number variant."""
        base = base or TRAIN_RULE
        return cls(tuple(factor * v for v in base.values), f"{base.name}-x{factor}")

    def value(self, rank: str) -> int:
        return self.values[RANKS.index(rank)]

    def hand_values(self, ranks: tuple[str, ...] | list[str]) -> tuple[int, ...]:
        return tuple(self.value(r) for r in ranks)

    def describe(self) -> str:
        """The rule in words, as the paper-style prompt states it."""
        j, q, k = self.values[10:]
        faces = f"'J', 'Q' and 'K' all count as {j}" if j == q == k else f"'J', 'Q' and 'K' count as {j}, {q} and {k}"
        if self.values[:10] == tuple(range(1, 11)):
            return f"{faces}; 'A' counts as 1 and every other card counts as its number."
        pairs = ", ".join(f"'{r}'={v}" for r, v in zip(RANKS[:10], self.values[:10], strict=True))
        return f"{faces}; the other cards count as follows: {pairs}."

    def compact(self) -> str:
        """The rule in a few characters, for the compact prompt style (tiny models pay per character)."""
        j, q, k = self.values[10:]
        faces = f"JQK={j}" if j == q == k else f"J={j} Q={q} K={k}"
        if self.values[:10] == tuple(range(1, 11)):
            return faces
        return " ".join(f"{r}={v}" for r, v in zip(RANKS[:10], self.values[:10], strict=True)) + " " + faces

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Rule:
        return cls(tuple(int(v) for v in data["values"]), str(data.get("name", "")))  # type: ignore[union-attr]


TRAIN_RULE = Rule.faces(10, name="faces-10")
OOD_RULE = Rule.faces(11, 12, 13, name="faces-11-12-13")
