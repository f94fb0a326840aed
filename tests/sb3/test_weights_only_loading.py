"""``wnrl.load(..., weights_only=True)`` never unpickles: poisoned pickles never run, and
tampered tensors, unrebuildable spaces, unlisted policy kwargs and broken files are refused with
one line naming the file."""

from __future__ import annotations

import io
import pathlib
from typing import Any

import gymnasium as gym
import pytest
import torch
from saved_models import (
    SPEC_IDS,
    Saved,
    assert_same_model,
    edit_data,
    edit_tensors,
    poison,
    rewrite_zip,
)

import wnrl
from wnrl.errors import WnrlError

# ----------------------------------------------------------------------------- (c) weights only


@pytest.mark.slow
@pytest.mark.parametrize("name", SPEC_IDS)
def test_weights_only_never_unpickles(
    saved: dict[str, Saved], tmp_path: pathlib.Path, name: str, no_unpickling: None
) -> None:
    """Every pickle in the file replaced by a payload: the model loads, the payload never runs."""
    item, marker = saved[name], tmp_path / "marker"
    poisoned = tmp_path / "poisoned.zip"
    assert poison(item.path, poisoned, marker) >= 5  # policy_class, spaces, schedules, buffers...
    loaded = wnrl.load(poisoned, weights_only=True)
    assert not marker.exists()
    assert_same_model(loaded, item)
    assert loaded.policy_kwargs == item.model.policy_kwargs
    assert loaded.observation_space == item.model.observation_space
    assert loaded.action_space == item.model.action_space
    for attribute in ("learning_rate", "gamma", "num_timesteps", "_n_updates", "n_envs"):
        assert getattr(loaded, attribute) == getattr(item.model, attribute), attribute


@pytest.mark.slow
def test_trusted_load_runs_the_payload(saved: dict[str, Saved], tmp_path: pathlib.Path) -> None:
    """The poisoning is real: SB3's loader (weights_only=False) runs it, weights_only does not."""
    marker, poisoned = tmp_path / "marker", tmp_path / "poisoned.zip"
    assert poison(saved["dqn"].path, poisoned, marker, keys={"ep_success_buffer"}) == 1
    wnrl.load(poisoned, weights_only=True)
    assert not marker.exists()
    wnrl.load(poisoned)
    assert marker.exists()


def test_weights_only_ppo_keeps_clip_range(untrained: dict[str, Saved]) -> None:
    loaded = wnrl.load(untrained["ppo"].path, weights_only=True)
    assert loaded.clip_range(1.0) == pytest.approx(0.3)


@pytest.mark.slow
def test_weights_only_with_env_then_trains(saved: dict[str, Saved]) -> None:
    item = saved["dqn"]
    loaded = wnrl.load(item.path, env=gym.make("CartPole-v1"), weights_only=True)
    assert loaded.get_env() is not None and loaded.n_envs == 1
    assert_same_model(loaded, item)
    loaded.learn(16, reset_num_timesteps=False)
    assert loaded.num_timesteps == item.model.num_timesteps + 16


def test_weights_only_env_mismatch(untrained: dict[str, Saved]) -> None:
    with pytest.raises(WnrlError, match="does not match") as error:
        wnrl.load(untrained["dqn"].path, env=gym.make("Acrobot-v1"), weights_only=True)
    assert str(untrained["dqn"].path) in str(error.value)


def test_weights_only_unrebuildable_space_needs_env(
    untrained: dict[str, Saved], tmp_path: pathlib.Path
) -> None:
    """A summarized bounds repr cannot be read back: refused without env=, loaded with it."""
    item, edited = untrained["dqn"], tmp_path / "summary.zip"

    def summarize(data: dict[str, Any]) -> None:
        data["observation_space"]["low"] = "[-4.8 ... -inf]"

    edit_data(item.path, edited, summarize)
    with pytest.raises(WnrlError, match="env=") as error:
        wnrl.load(edited, weights_only=True)
    assert "\n" not in str(error.value) and "observation_space" in str(error.value)
    assert_same_model(wnrl.load(edited, env=gym.make("CartPole-v1"), weights_only=True), item)
    with pytest.raises(WnrlError, match="does not match"):  # type / shape still checked
        wnrl.load(edited, env=gym.make("Pendulum-v1"), weights_only=True)


def test_weights_only_refuses_unlisted_policy_kwargs(
    untrained: dict[str, Saved], tmp_path: pathlib.Path
) -> None:
    def smuggle(data: dict[str, Any]) -> None:
        data["policy_kwargs"] = {
            ":type:": "<class 'dict'>",
            ":serialized:": "AAAA",
            "net_arch": [32],
            "activation_fn": "<class 'subprocess.Popen'>",
        }

    edit_data(untrained["dqn"].path, tmp_path / "smuggle.zip", smuggle)
    with pytest.raises(WnrlError, match="cannot be loaded without unpickling.*weights_only=False"):
        wnrl.load(tmp_path / "smuggle.zip", weights_only=True)


# ----------------------------------------------------------------------------- (d) tampered tensors


def _drop_first(state: dict[str, Any]) -> None:
    del state[next(iter(state))]


def _widen_first(state: dict[str, Any]) -> None:
    key = next(iter(state))
    state[key] = torch.zeros(state[key].shape[0] + 1, *state[key].shape[1:])


def _add_key(state: dict[str, Any]) -> None:
    state["extra.weight"] = torch.zeros(3)


@pytest.mark.parametrize(
    "edit", [_drop_first, _widen_first, _add_key], ids=["missing", "shape", "unexpected"]
)
@pytest.mark.parametrize("name", ["ppo", "sac"])
def test_tampered_tensors_refused(
    untrained: dict[str, Saved], tmp_path: pathlib.Path, name: str, edit: Any
) -> None:
    tampered = tmp_path / "tampered.zip"
    edit_tensors(untrained[name].path, tampered, "policy.pth", edit)
    with pytest.raises(WnrlError, match="do not match") as error:
        wnrl.load(tampered, weights_only=True)
    assert "\n" not in str(error.value) and str(tampered) in str(error.value)
    with pytest.raises(WnrlError):  # SB3's own loader refuses it too, wrapped in one line
        wnrl.load(tampered)


def test_tampered_entries_refused(untrained: dict[str, Saved], tmp_path: pathlib.Path) -> None:
    extra, variable = tmp_path / "extra.zip", tmp_path / "variable.zip"
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(1)}, buffer)
    rewrite_zip(untrained["dqn"].path, extra, {"evil.pth": buffer.getvalue()})
    with pytest.raises(WnrlError, match="do not match.*evil"):
        wnrl.load(extra, weights_only=True)

    def wrong_shape(state: dict[str, Any]) -> None:
        state["log_ent_coef"] = torch.zeros(2)

    edit_tensors(untrained["sac"].path, variable, "pytorch_variables.pth", wrong_shape)
    with pytest.raises(WnrlError, match="do not match.*log_ent_coef"):
        wnrl.load(variable, weights_only=True)


# ----------------------------------------------------------------------------- (e) bad files


def _zip_without(src: pathlib.Path, dst: pathlib.Path, entry: str) -> pathlib.Path:
    rewrite_zip(src, dst, {entry: None})
    return dst


@pytest.mark.parametrize("weights_only", [False, True])
def test_bad_files(untrained: dict[str, Saved], tmp_path: pathlib.Path, weights_only: bool) -> None:
    not_zip = tmp_path / "notzip.zip"
    not_zip.write_text("hello")
    bad_json = tmp_path / "badjson.zip"
    rewrite_zip(untrained["dqn"].path, bad_json, {"data": b"{not json"})
    cases = {
        tmp_path / "missing.zip": "not found",
        not_zip: "not a zip",
        _zip_without(untrained["dqn"].path, tmp_path / "nodata.zip", "data"): "no 'data'",
        _zip_without(
            untrained["dqn"].path, tmp_path / "noparams.zip", "policy.pth"
        ): "no 'policy.pth'",
        bad_json: "not valid JSON",
    }
    for path, message in cases.items():
        with pytest.raises(WnrlError, match=message) as error:
            wnrl.load(path, weights_only=weights_only)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(WnrlError, match="not found"):
        wnrl.detect_algorithm(tmp_path / "missing")
