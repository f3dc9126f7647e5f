"""gengap: measure what post-training (SFT vs RL) does to generalisation.

Importing the package registers the Gymnasium environments (cheaply: entry points are strings, nothing
heavy is imported until ``gymnasium.make``):

* ``gengap/GeneralPoints-L-v0`` — the card game, cards listed in the prompt;
* ``gengap/GeneralPoints-VL-v0`` — the card game, cards shown only in an image.
"""

from __future__ import annotations

__version__ = "0.1.0"


def _register_envs() -> None:
    import gymnasium

    for env_id, kwargs in (
        ("gengap/GeneralPoints-L-v0", {"vision": False}),
        ("gengap/GeneralPoints-VL-v0", {"vision": True}),
    ):
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point="gengap.gp.env:GeneralPointsEnv", kwargs=kwargs)


_register_envs()
