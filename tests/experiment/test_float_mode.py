"""Subnormal floats flushed to zero while a run trains, and only then (experiment.float_mode)."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from wnrl.experiment.config import build_config
from wnrl.experiment.float_mode import flushes_subnormals, flushing_subnormals
from wnrl.experiment.rundir import read_config

pytestmark = pytest.mark.skipif(
    not torch.set_flush_denormal(False), reason="this CPU has no flush-to-zero mode"
)
SUBNORMAL = 1e-39  # a float32 subnormal: 0 in flush-to-zero arithmetic


def product_of_subnormal() -> float:
    return (torch.tensor([SUBNORMAL]) * 1.0).item()


def test_importing_wnrl_leaves_the_float_mode_alone() -> None:
    import wnrl  # noqa: F401

    assert not flushes_subnormals()
    assert product_of_subnormal() > 0.0


def test_the_block_flushes_and_the_previous_mode_comes_back() -> None:
    with flushing_subnormals(True):
        assert flushes_subnormals()
        assert product_of_subnormal() == 0.0
        with flushing_subnormals(False):
            assert product_of_subnormal() > 0.0
        assert flushes_subnormals()  # the outer block's mode, restored
    assert not flushes_subnormals()
    with pytest.raises(RuntimeError), flushing_subnormals(True):
        raise RuntimeError("training failed")
    assert not flushes_subnormals()  # restored on an error too


def test_new_runs_flush_runs_written_before_the_setting_did_not(tmp_path) -> None:
    assert build_config("dqn", "CartPole-v1")["flush_subnormals"] is True
    assert build_config("dqn", "CartPole-v1", flush_subnormals=False)["flush_subnormals"] is False
    old = tmp_path / "config.yaml"
    old.write_text("agent: dqn\nenv: CartPole-v1\nnorm: wn\nseed: 0\n")
    assert read_config(old)["flush_subnormals"] is False


def test_the_cli_option_reaches_the_config() -> None:
    from wnrl.cli.commands import build_parser

    parser = build_parser()
    for argv, expected in (([], True), (["--no-flush-subnormals"], False)):
        args = parser.parse_args(["train", "dqn", "CartPole-v1", *argv])
        assert args.flush_subnormals is expected


class RecordMode(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.modes: set[bool] = set()

    def _on_step(self) -> bool:
        self.modes.add(flushes_subnormals())
        return True


@pytest.mark.slow
@pytest.mark.parametrize("flush", [True, False])
def test_training_runs_in_the_run_s_mode_and_restores_it(tmp_path, flush: bool) -> None:
    from wnrl.experiment.train import start_run

    config = build_config(
        "dqn", "CartPole-v1", steps=200, seed=0, logdir=tmp_path, eval_every=0,
        checkpoint_every=0, flush_subnormals=flush, hp={"learning_starts": 50},
    )  # fmt: skip
    record = RecordMode()
    start_run(config, progress="none", extra_callbacks=(record,))
    assert record.modes == {flush}
    assert not flushes_subnormals()
