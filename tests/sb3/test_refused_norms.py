"""Norms an agent does not take (wnrl.names.REFUSED_NORMS): a one-line error that says why,
at the command line and in the policy constructors, instead of an agent that does not learn."""

from __future__ import annotations

import pytest
from sb3_contrib import QRDQN
from small_models import ALGOS, env_id, small_kwargs
from stable_baselines3 import DQN, PPO

from wnrl.errors import ConfigError
from wnrl.experiment.config import build_config
from wnrl.names import FAMILY_AGENTS, NORMS, REFUSED_NORMS, norm_refusal
from wnrl.policies import WN_POLICIES, WNActorCriticPolicy
from wnrl.sb3.refusals import loading_saved_models

REFUSED = [(agent, norm) for agent, norms in REFUSED_NORMS.items() for norm in sorted(norms)]


def test_refusals_name_real_agents_and_norms_and_say_where_the_evidence_is() -> None:
    assert REFUSED, "nothing is refused: this test and the README's norm table need updating"
    for agent, norm in REFUSED:
        assert agent in ALGOS and norm in NORMS
        message = norm_refusal((agent,), norm)
        assert message is not None and "\n" not in message
        assert f"not offered for {agent}" in message and "docs/results.md" in message
    assert norm_refusal(("dqn",), "wn+mobn") is None
    assert norm_refusal(("ppo", "a2c"), "wn") is None
    assert sorted(a for agents in FAMILY_AGENTS.values() for a in agents) == sorted(ALGOS)


@pytest.mark.parametrize("agent,norm", REFUSED)
def test_the_run_configuration_refuses_them(agent: str, norm: str) -> None:
    with pytest.raises(ConfigError, match=f"not offered for {agent}"):
        build_config(agent, env_id(agent), norm=norm)


@pytest.mark.parametrize("agent,norm", REFUSED)
def test_the_policy_constructors_refuse_them(agent: str, norm: str) -> None:
    algorithm, policy = ALGOS[agent], WN_POLICIES[agent]
    with pytest.raises(ConfigError, match="not offered for"):
        algorithm(
            policy, env_id(agent), policy_kwargs={"norm": norm}, device="cpu", **small_kwargs(agent)
        )
    with pytest.raises(ConfigError, match="not offered for"):  # the string names too
        algorithm("WNMlpPolicy", env_id(agent), policy_kwargs={"norm": norm}, device="cpu")


def test_agents_that_take_mean_only_batch_norm_build_it_and_research_code_may_opt_out() -> None:
    for algorithm in (DQN, QRDQN):
        model = algorithm("WNMlpPolicy", "CartPole-v1", policy_kwargs={"norm": "wn+mobn"})
        assert model.policy.norm == "wn+mobn"

    class StudiedPolicy(WNActorCriticPolicy):  # as scripts/mobn_probe.py studies the refusal
        refuse_norms = False

    model = PPO(StudiedPolicy, "CartPole-v1", policy_kwargs={"norm": "wn+mobn"}, n_steps=16)
    assert model.policy.norm == "wn+mobn"


def test_models_saved_before_the_refusal_still_load_through_wnrl(tmp_path) -> None:
    """SB3's load rebuilds the policy through its constructor: a model saved with a norm that
    is refused now gets the one-line error there, naming wnrl.load, which loads it."""
    import wnrl

    with loading_saved_models():  # as the model was made before the refusal
        made = PPO("WNMlpPolicy", "CartPole-v1", policy_kwargs={"norm": "wn+mobn"}, n_steps=16)
    path = tmp_path / "ppo_mobn.zip"
    made.save(path)
    with pytest.raises(ConfigError, match="loads with wnrl.load"):
        PPO.load(path)
    for weights_only in (False, True):
        loaded = wnrl.load(path, weights_only=weights_only)
        assert loaded.policy.norm == "wn+mobn"
    with pytest.raises(ConfigError):  # the block ended: new models are refused again
        PPO("WNMlpPolicy", "CartPole-v1", policy_kwargs={"norm": "wn+mobn"})
