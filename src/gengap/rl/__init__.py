"""Reinforcement learning on our multi-turn episodes: the rollout engine, turn-level PPO (as in the paper).

One *action* is one whole answer (a turn); its reward comes from the game's verifier; an episode is the
sequence of attempts (GeneralPoints) or of route points (V-IRL). Everything here builds on the episode
contract, so both games, text and vision, run through the same code.
"""
