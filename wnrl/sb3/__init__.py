"""Stable-Baselines3 adapters: weight-normalized policies and networks, callbacks, the Atari
replay buffer and model files.

Every SB3 contract a policy has (save/load of each network, ``optimizer_class``, features
extractors, ``CnnPolicy`` semantics, string policy names) holds for wnrl's:

* :mod:`wnrl.sb3.policies`, :mod:`wnrl.sb3.policy_base`, :mod:`wnrl.sb3.policy_names`: one policy
  class per algorithm family, its SB3 variants and string names;
* :mod:`wnrl.sb3.networks`: the networks the policies build through SB3's ``make_*`` hooks;
* :mod:`wnrl.sb3.callbacks`: the data-dependent init on the agent's own data, WN diagnostics;
* :mod:`wnrl.sb3.buffers`: the frame-deduplicated Atari replay buffer;
* :mod:`wnrl.sb3.preprocessing`: one-pass image preprocessing;
* :mod:`wnrl.sb3.model_files` (with ``saved_data``, ``saved_hyperparameters``, ``saved_spaces``):
  algorithm detection and the pickle-free loader.
"""
