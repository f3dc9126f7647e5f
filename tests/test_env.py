from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gengap  # noqa: F401  (registers the environments)


@pytest.mark.parametrize("env_id", ["gengap/GeneralPoints-L-v0", "gengap/GeneralPoints-VL-v0"])
def test_check_env_passes(env_id: str) -> None:
    env = gym.make(env_id, image_size=96)
    check_env(env.unwrapped, skip_render_check=True)


def test_reset_options_and_info() -> None:
    env = gym.make("gengap/GeneralPoints-L-v0")
    obs, info = env.reset(seed=3, options={"split": "ood-rule", "cards": ["3", "3", "8", "8"], "verify_iter": 2})
    assert info["cards"] == ["3", "3", "8", "8"] and info["values"] == [3, 3, 8, 8]
    assert info["target"] == 24 and info["rule"] == "faces-11-12-13" and len(info["suits"]) == 4
    assert obs["messages"][0]["role"] == "user" and "['3', '3', '8', '8']" in obs["messages"][0]["content"]
    obs, reward, terminated, truncated, info = env.step(json.dumps({"formula": "3*8"}))
    assert (reward, terminated, truncated) == (-2.0, False, False)
    assert info["outcome"] == "wrong_numbers" and "did not use 3 and 8" in info["feedback"]
    assert info["solutions"] == ["8/(3-8/3)"] and info["parsed"]["formula"] == "3*8"
    assert obs["messages"][-1]["content"].startswith("You failed this trial because")
    obs, reward, terminated, truncated, info = env.step("{}")
    assert truncated and not terminated and info["budget_exhausted"] and reward == -3.0 - 1.0
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"splitt": "id"})


def test_vision_observation_has_the_image_and_no_card_list() -> None:
    env = gym.make("gengap/GeneralPoints-VL-v0", image_size=128, split="ood-visual")
    obs, info = env.reset(seed=0)
    assert obs["image"].shape == (128, 128, 3) and obs["image"].dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert str(info["cards"]) not in obs["messages"][0]["content"]
    assert set(info["suits"]) <= {"hearts", "diamonds"}
    answer = {"cards": info["cards"], "formula": "1+1"}
    _, _, _, _, step_info = env.step(json.dumps(answer))
    assert step_info["outcome"] != "wrong_cards"
    _, reward, _, _, step_info = env.step(json.dumps({"cards": ["A", "A", "A", "A"], "formula": "1+1"}))
    assert step_info["outcome"] == "wrong_cards" and reward == -1.5


def test_seeded_reset_is_reproducible_and_unseeded_uses_np_random() -> None:
    env = gym.make("gengap/GeneralPoints-L-v0")
    a = env.reset(seed=11)[1]["cards"]
    b = env.reset(seed=11)[1]["cards"]
    assert a == b
    env.reset(seed=5)
    first = [env.reset()[1]["cards"] for _ in range(5)]
    env.reset(seed=5)
    second = [env.reset()[1]["cards"] for _ in range(5)]
    assert first == second


def test_render_modes() -> None:
    env = gym.make("gengap/GeneralPoints-L-v0", render_mode="ansi")
    env.reset(seed=0)
    assert "[user]" in env.render()
    env = gym.make("gengap/GeneralPoints-VL-v0", render_mode="rgb_array", image_size=64)
    env.reset(seed=0)
    assert env.render().shape == (64, 64, 3)
