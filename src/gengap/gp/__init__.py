"""GeneralPoints: the arithmetic card game of the study, in pure Python (no torch).

Start here: :class:`GeneralPoints` (settings) → :meth:`GeneralPoints.episode` (one hand, multi-turn) →
:meth:`GPEpisode.step` (the verifier's outcome, reward and feedback). Splits are in :mod:`.splits`, the exact
solver in :mod:`.solver`, the verifier in :mod:`.verifier`, card images in :mod:`.render`.
"""

from gengap.gp.cards import Hand
from gengap.gp.game import GeneralPoints, GPEpisode
from gengap.gp.rules import OOD_RULE, TRAIN_RULE, Rule
from gengap.gp.solver import is_solvable, solvable_rank_multisets, solve
from gengap.gp.splits import SPLITS, Split, get_split, register_split
from gengap.gp.verifier import REWARDS, Outcome, Rewards, Verdict, verify

__all__ = [
    "OOD_RULE",
    "REWARDS",
    "SPLITS",
    "TRAIN_RULE",
    "GPEpisode",
    "GeneralPoints",
    "Hand",
    "Outcome",
    "Rewards",
    "Rule",
    "Split",
    "Verdict",
    "get_split",
    "is_solvable",
    "register_split",
    "solvable_rank_multisets",
    "solve",
    "verify",
]
