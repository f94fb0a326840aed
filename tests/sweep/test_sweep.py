"""``wnrl sweep``: a tiny real grid on the local backend (and on Ray in-process when it is
installed), skipping finished runs, resuming, restarting and failing cells, ``wnrl compare`` on
the result, signals, and one-line errors for bad input."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import pytest
import yaml

from wnrl.analysis.plots import DPI, PANEL_SIZE
from wnrl.cli import main as wnrl_main
from wnrl.errors import ConfigError
from wnrl.sweep.grid import (
    cell_dir,
    default_logdir,
    expand_targets,
    parse_list,
    parse_seeds,
    plan_sweep,
)
from wnrl.sweep.local_executor import available_cores
from wnrl.sweep.run import run_sweep

HP = [
    "--hp",
    "learning_starts=100",
    "train_freq=4",
    "gradient_steps=1",
    "buffer_size=1000",
    "policy_kwargs.net_arch=[32,32]",
]
CELLS = ["dqn-none-s0", "dqn-none-s1", "dqn-wn-s0", "dqn-wn-s1"]


def tiny(logdir: Path, *extra: str, norms: str = "none,wn", seeds: str = "2") -> list[str]:
    """2 norms x 2 seeds of DQN on CartPole, 300 steps, evaluations and checkpoints every 150."""
    return [
        "CartPole-v1", "--agent", "dqn", "--norm", norms, "--seeds", seeds, "--steps", "300",
        "--eval-every", "150", "--eval-episodes", "2", "--checkpoint-every", "150",
        "--logdir", str(logdir), *extra, *HP,
    ]  # fmt: skip


def statuses(out: str) -> dict[str, str]:
    result = {}
    for line in out.splitlines():
        if line.startswith("["):
            _, status, _env, cell, *_ = line.split()
            result[cell] = status
    return result


def manifest(logdir: Path) -> dict:
    return yaml.safe_load((logdir / "sweep.yaml").read_text())


def eval_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "evaluations.csv") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_local_sweep_skips_resumes_restarts_reports_failures_and_compares(
    tmp_path: Path, capsys
) -> None:
    logdir = tmp_path / "sweep"
    start = time.time()
    assert wnrl_main(["sweep", *tiny(logdir)]) == 0
    out = capsys.readouterr().out
    assert statuses(out) == dict.fromkeys(CELLS, "finished")
    assert "300 steps" in out and "eval max" in out
    runs = logdir / "CartPole-v1"
    assert sorted(p.name for p in runs.iterdir() if p.is_dir()) == CELLS
    for name in CELLS:  # a normal `wnrl train` run directory, one per cell
        run_dir = runs / name
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert (config["agent"], config["env"], config["n_timesteps"]) == (
            "dqn",
            "CartPole-v1",
            300,
        )
        assert f"{config['agent']}-{config['norm']}-s{config['seed']}" == name
        assert config["hyperparams"]["learning_starts"] == 100
        assert config["policy_kwargs"]["net_arch"] == [32, 32]
        assert (run_dir / "model.zip").is_file() and eval_steps(run_dir) == [150, 300]
        assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
        assert (runs / f"{name}.log").is_file()
    cells = manifest(logdir)["cells"]
    assert [(c["run_dir"], c["status"]) for c in cells] == [
        (f"CartPole-v1/{name}", "finished") for name in CELLS
    ]
    assert manifest(logdir)["norms"] == ["none", "wn"] and manifest(logdir)["seeds"] == [0, 1]
    first_run = time.time() - start

    # the same sweep again: nothing to do
    stamps = {name: (runs / name / "model.zip").stat().st_mtime_ns for name in CELLS}
    start = time.time()
    assert wnrl_main(["sweep", *tiny(logdir)]) == 0
    assert statuses(capsys.readouterr().out) == dict.fromkeys(CELLS, "skipped")
    assert time.time() - start < first_run
    assert stamps == {name: (runs / name / "model.zip").stat().st_mtime_ns for name in CELLS}

    # none-s0: killed after its step-150 checkpoint; none-s1: killed, and its newest checkpoint
    # lost its model (the sweep skips it with a warning and resumes from the one before, as
    # `wnrl train --resume` does); wn-s0: killed before its first checkpoint; wn-s1: every
    # checkpoint damaged (the run fails, the others go on)
    resumed, damaged = runs / "dqn-none-s0", runs / "dqn-none-s1"
    restarted, broken = runs / "dqn-wn-s0", runs / "dqn-wn-s1"
    for run_dir in (resumed, damaged, restarted, broken):
        (run_dir / "model.zip").unlink()
    shutil.rmtree(resumed / "checkpoints" / "step-000000300")
    (resumed / "checkpoints" / "latest").write_text("step-000000150\n")
    (damaged / "checkpoints" / "step-000000300" / "model.zip").unlink()
    shutil.rmtree(restarted / "checkpoints")
    (broken / "checkpoints" / "latest").write_text("../../elsewhere\n")
    for checkpoint in (broken / "checkpoints").glob("step-*"):
        (checkpoint / "model.zip").write_bytes(b"PK damaged")
    assert wnrl_main(["sweep", *tiny(logdir)]) == 1
    captured = capsys.readouterr()
    assert statuses(captured.out) == {
        "dqn-none-s0": "resumed",
        "dqn-none-s1": "resumed",
        "dqn-wn-s0": "finished",
        "dqn-wn-s1": "FAILED",
    }
    failed = next(line for line in captured.out.splitlines() if "FAILED" in line)
    assert "no intact checkpoint" in failed and str(runs / "dqn-wn-s1.log") in failed
    assert "1 failed" in captured.out
    from stable_baselines3 import DQN

    for run_dir in (resumed, damaged):  # both from step 150
        assert 300 <= DQN.load(run_dir / "model.zip").num_timesteps < 310
        assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2  # a second process
    assert "resuming from step-000000150" in (runs / "dqn-none-s0.log").read_text()
    log = (runs / "dqn-none-s1.log").read_text()
    assert "checkpoint step-000000300 is damaged (model.zip is missing)" in log
    assert len(list(restarted.glob("events.out.tfevents.*"))) == 1  # stale curves removed
    assert eval_steps(restarted) == [150, 300] and (restarted / "model.zip").is_file()
    assert not (broken / "model.zip").exists()
    by_dir = {c["run_dir"]: c for c in manifest(logdir)["cells"]}
    assert by_dir["CartPole-v1/dqn-wn-s1"]["status"] == "failed"
    assert "no intact checkpoint" in by_dir["CartPole-v1/dqn-wn-s1"]["error"]
    assert by_dir["CartPole-v1/dqn-none-s0"]["status"] == "resumed"

    # compare on the sweep: one figure for the env, one table row per norm, 2 seeds each
    out = tmp_path / "compare"
    assert wnrl_main(["compare", str(logdir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    image = matplotlib.image.imread(out / "CartPole-v1.png")
    assert image.shape[:2] == (round(PANEL_SIZE[1] * DPI), round(PANEL_SIZE[0] * DPI))  # one agent
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["env"], r["agent"], r["norm"], r["seeds"], r["steps"]) for r in rows] == [
        ("CartPole-v1", "dqn", "none", "2", "302"),  # both resumed at 150: 150 + 4k steps
        ("CartPole-v1", "dqn", "wn", "2", "300"),
    ]
    assert all(float(r["max_mean"]) >= float(r["final_mean"]) > 0 for r in rows)
    assert "| CartPole-v1 | dqn | none | 2 | 302 |" in printed


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_backend_in_process(tmp_path: Path, capsys, monkeypatch) -> None:
    # Ray runs its workers at nice 15 by default: on a busy shared test machine they would
    # wait behind every other job (import torch alone took 40 s); give them normal priority
    monkeypatch.setenv("RAY_worker_niceness", "0")
    # an in-process ray.init() turns token authentication on and writes ~/.ray/auth_token,
    # which later `ray start --head` on this machine would then require: keep both here
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    logdir = tmp_path / "sweep"
    args = tiny(logdir, "--backend", "ray", "--cpus-per-run", "1", norms="wn")
    assert wnrl_main(["sweep", *args]) == 0
    out = capsys.readouterr().out
    assert statuses(out) == {"dqn-wn-s0": "finished", "dqn-wn-s1": "finished"}
    for name in ("dqn-wn-s0", "dqn-wn-s1"):
        assert (logdir / "CartPole-v1" / name / "model.zip").is_file()
        assert eval_steps(logdir / "CartPole-v1" / name) == [150, 300]
    assert manifest(logdir)["backend"] == "ray"
    import ray

    assert not ray.is_initialized()  # the sweep started Ray, and shut it down


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_stop_signals_checkpoint_the_running_cells_and_exit_130(tmp_path: Path, signum) -> None:
    """SIGTERM and SIGHUP (a closed terminal: it reaches the sweep and its workers) make the
    running cells checkpoint; the same command resumes them."""
    logdir = tmp_path / "sweep"
    args = tiny(logdir, norms="wn", seeds="1")
    args[args.index("--steps") + 1] = "200000"
    args[args.index("--checkpoint-every") + 1] = "0"
    process = subprocess.Popen(
        [sys.executable, "-m", "wnrl", "sweep", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_dir = logdir / "CartPole-v1" / "dqn-wn-s0"
    deadline = time.time() + 60
    while time.time() < deadline and not (run_dir / "evaluations.csv").exists():
        time.sleep(0.2)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert statuses(out) == {"dqn-wn-s0": "interrupted"}
    assert "run the same command again" in err
    assert (run_dir / "checkpoints" / "latest").is_file() and not (run_dir / "model.zip").exists()
    plan = plan_sweep(
        ["CartPole-v1"], "dqn", ["wn"], [0], logdir, steps=200000, eval_every=150,
        eval_episodes=2, checkpoint_every=0, hp=sweep_hp(),
    )  # fmt: skip
    assert [cell.state for cell in plan.cells] == ["resume"]
    assert manifest(logdir)["cells"][0]["status"] == "interrupted"


def sweep_hp() -> dict:
    from wnrl.experiment.presets import parse_overrides

    return parse_overrides(HP[1:])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clasic"], "unknown env suite or environment 'clasic' (did you mean suite 'classic'?)"),
        (["Carpole-v1"], "did you mean 'CartPole-v1'"),
        (["CartPole-v1", "--norm", "none,wm"], "unknown norm 'wm'"),
        (["CartPole-v1", "--agent", "dqm"], "unknown agent 'dqm'"),
        (["CartPole-v1", "--seeds", "two"], "--seeds expects a count"),
        (["Pendulum-v1"], "dqn cannot act in Pendulum-v1"),
        (["CartPole-v1", "--hp", "learning_rat=1"], "unknown hyperparameter 'learning_rat'"),
        (["CartPole-v1", "--address", "10.0.0.1:6379"], "use it with --backend ray"),
        (["CartPole-v1", "--max-parallel", "0"], "--max-parallel must be >= 1"),
    ],
)
def test_bad_arguments_are_one_line_errors_with_exit_code_2(
    args: list[str], message: str, tmp_path: Path, capsys
) -> None:
    logdir = tmp_path / "sweep"
    argv = [args[0], "--logdir", str(logdir), *args[1:]]  # --hp takes the rest: keep it last
    assert wnrl_main(["sweep", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wnrl: error: ") and err.count("\n") == 1 and message in err, err
    assert not logdir.exists()  # nothing ran, nothing was written
    assert wnrl_main(["sweep", *argv]) == 2  # through the real CLI entry point
    assert message in capsys.readouterr().err


def test_ray_missing_is_a_one_line_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    logdir = tmp_path / "sweep"
    assert wnrl_main(["sweep", "CartPole-v1", "--backend", "ray", "--logdir", str(logdir)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'wnrl[ray]'" in err and err.count("\n") == 1
    assert not logdir.exists()
    with pytest.raises(ConfigError, match="wnrl\\[ray\\]"):
        run_sweep(plan_sweep(["CartPole-v1"], logdir=logdir), backend="ray")
    assert not logdir.exists()


def test_a_changed_configuration_is_refused_up_front(tmp_path: Path, capsys) -> None:
    logdir = tmp_path / "sweep"
    plan = plan_sweep(["CartPole-v1"], "dqn", ["wn"], [0], logdir, steps=300)
    run_dir = plan.cells[0].run_dir
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(plan.cells[0].config))
    again = plan_sweep(["CartPole-v1"], "dqn", ["wn"], [0], logdir, steps=300)
    assert again.cells[0].state == "restart"  # same configuration: it continues
    args = ["CartPole-v1", "--norm", "wn", "--seeds", "1", "--steps", "400"]
    assert wnrl_main(["sweep", *args, "--logdir", str(logdir)]) == 2
    err = capsys.readouterr().err
    assert "holds a run with a different configuration (n_timesteps differ)" in err
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml"]


def test_grid_expansion(tmp_path: Path) -> None:
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("1,4,7") == [1, 4, 7]
    assert parse_seeds("5,") == [5]
    for bad in ("0", "-1,2", "x", ","):
        with pytest.raises(ConfigError):
            parse_seeds(bad)
    assert parse_list("none, wn,none", "--norm") == ["none", "wn"]
    assert list(expand_targets(["classic"])) == [
        "CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"
    ]  # fmt: skip
    assert list(expand_targets(["cartpole-v1", "classic"]))[0] == "CartPole-v1"
    assert len(expand_targets(["atari-paper"])) == 4
    plan = plan_sweep(["classic"], "dqn", ["none", "wn"], [0, 1], tmp_path / "s")
    assert len(plan.cells) == 3 * 2 * 2 and plan.envs == [
        "CartPole-v1", "Acrobot-v1", "MountainCar-v0"
    ]  # fmt: skip
    assert plan.skipped_envs and "Pendulum-v1" in plan.skipped_envs[0]
    assert plan.cells[-1].run_dir == tmp_path / "s" / "MountainCar-v0" / "dqn-wn-s1"
    assert cell_dir(Path("r"), "ALE/Breakout-v5", "dqn", "wn", 2) == Path(
        "r/ALE-Breakout-v5/dqn-wn-s2"
    )
    assert default_logdir("dqn", ["classic"]) == Path("runs/sweep-dqn-classic")
    assert not (tmp_path / "s").exists()  # planning writes nothing
    assert os.cpu_count() and available_cores() >= 1


def test_interrupted_runs_go_first_then_seed_by_seed(tmp_path: Path) -> None:
    from wnrl.sweep.run import run_order

    sweep = plan_sweep(
        ["CartPole-v1", "Acrobot-v1"], norms=["none", "wn"], seeds=[3, 1], logdir=tmp_path
    )
    sweep.cells[5].state = "interrupted"  # Acrobot, none, seed 1
    order = [(c.env, c.norm, c.seed) for c in run_order(sweep, list(sweep.cells))]
    assert order == [
        ("Acrobot-v1", "none", 1),
        ("CartPole-v1", "none", 3),
        ("CartPole-v1", "wn", 3),
        ("Acrobot-v1", "none", 3),
        ("Acrobot-v1", "wn", 3),
        ("CartPole-v1", "none", 1),
        ("CartPole-v1", "wn", 1),
        ("Acrobot-v1", "wn", 1),
    ]


def test_runs_in_the_published_raw_data_are_not_run_again(tmp_path: Path, capsys) -> None:
    """A study resumed on a new machine: its finished runs are in the committed raw data only."""
    published = tmp_path / "published"
    plan = plan_sweep(["CartPole-v1"], norms=["wn"], seeds=[0, 1], logdir=tmp_path / "s", steps=500)
    for cell, last_step in zip(plan.cells, (500, 250), strict=True):  # seed 1 stopped early
        run_dir = cell_dir(published, cell.env, "dqn", cell.norm, cell.seed)
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cell.config))
        (run_dir / "evaluations.csv").write_text(f"step,mean\n250,9.0\n{last_step},10.0\n")
    plan = plan_sweep(
        ["CartPole-v1"], norms=["wn"], seeds=[0, 1], logdir=tmp_path / "s", steps=500,
        published=published,
    )  # fmt: skip
    assert [cell.state for cell in plan.cells] == ["published", "new"]
    with pytest.raises(ConfigError, match="different configuration .*n_timesteps"):
        plan_sweep(["CartPole-v1"], norms=["wn"], seeds=[0], steps=900, published=published)
    with pytest.raises(ConfigError, match="--published: no such directory"):
        plan_sweep(["CartPole-v1"], norms=["wn"], seeds=[0], published=tmp_path / "nowhere")
    only_published = plan_sweep(
        ["CartPole-v1"], norms=["wn"], seeds=[0], logdir=tmp_path / "s", steps=500,
        published=published,
    )  # fmt: skip
    report = run_sweep(only_published, show_progress=False)
    assert report.exit_code == 0 and not (tmp_path / "s" / "CartPole-v1").exists()
    assert "published" in capsys.readouterr().out
