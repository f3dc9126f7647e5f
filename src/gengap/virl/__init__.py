"""V-IRL: route following in real cities (OpenStreetMap), in text (V-IRL-L) or from street views (V-IRL-VL).

Pure Python (no torch): worlds, routes and instructions, the verifier and the multi-turn episode. Start with
:class:`gengap.virl.game.VIRL`, or ``gymnasium.make("gengap/VIRL-L-v0")`` after ``import gengap``.
"""

from gengap.virl.game import VIRL, VIRLEpisode
from gengap.virl.splits import SPLITS, get_split

__all__ = ["SPLITS", "VIRL", "VIRLEpisode", "get_split"]
