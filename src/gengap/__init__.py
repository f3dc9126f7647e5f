"""gengap: measure what post-training (SFT vs RL) does to generalisation.

Importing the package registers the Gymnasium environments (cheaply: entry points are strings, nothing
heavy is imported until ``gymnasium.make``):

* ``gengap/GeneralPoints-L-v0`` — the card game, cards listed in the prompt;
* ``gengap/GeneralPoints-VL-v0`` — the card game, cards shown only in an image;
* ``gengap/VIRL-L-v0`` — route following in a real city, observations in text;
* ``gengap/VIRL-VL-v0`` — route following, observations as rendered street views.
"""

from __future__ import annotations

__version__ = "0.1.0"


import gengap.games  # noqa: F401  (registers the games and their Gymnasium environments)
