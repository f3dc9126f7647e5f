"""The game registry: one line per game. ``--game`` names, ``gym.make`` ids and every command come from here."""

from gengap.core.game import register_game

register_game("gp", "gengap.gp.game:GeneralPoints", env="gengap.gp.env:GeneralPointsEnv", env_name="GeneralPoints")
register_game("virl", "gengap.virl.game:VIRL", env="gengap.virl.env:VIRLEnv", env_name="VIRL")
