"""``wnrl compare`` on synthetic run directories: exact statistics, resumes, figures, errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from synthetic_runs import make_run

from wnrl.analysis.compare import compare
from wnrl.analysis.plots import DPI, PANEL_SIZE, figure_digest, mean_curve
from wnrl.analysis.runs import (
    TRAIN_TAG,
    Run,
    area_under_curve,
    game_name,
    read_evaluations,
    read_scalar,
)
from wnrl.cli import main as wnrl_main


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def assert_png(path: Path, panels: tuple[int, int] = (1, 1)) -> None:
    """A PNG of ``panels`` (rows, columns) of the fixed panel size, something drawn, and the
    digest of its data in its metadata."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    rows, columns = panels
    height, width = round(PANEL_SIZE[1] * DPI * rows), round(PANEL_SIZE[0] * DPI * columns)
    assert image.shape[:2] == (height, width)
    assert image[..., :3].std() > 0.05  # something is drawn
    assert len(figure_digest(path) or "") == 64


@pytest.fixture()
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    make_run(root, "CartPole-v1", "wn", 0, [(100, 0.0), (200, 10.0), (300, 20.0)])
    make_run(root, "CartPole-v1", "wn", 1, [(100, 0.0), (200, 30.0), (300, 10.0)])
    make_run(root, "CartPole-v1", "none", 0, [(100, 5.0), (200, 5.0), (300, 8.0)])
    make_run(root, "ALE/Breakout-v5", "wn", 0, [(100, 1.0), (200, 3.0)], frames_per_step=4)
    return root


@pytest.mark.slow
def test_table_numbers_figures_and_printout(runs_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert wnrl_main(["compare", str(runs_root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = read_csv(out / "results.csv")
    assert [(r["env"], r["norm"], r["seeds"]) for r in rows] == [
        ("ALE/Breakout-v5", "wn", "1"),
        ("CartPole-v1", "none", "1"),  # the baseline first
        ("CartPole-v1", "wn", "2"),
    ]
    wn = rows[2]
    # per seed: max 20 and 30, final 20 and 10, AUC (trapezoid / 200 steps) 10 and 17.5
    expected = {"max_mean": 25, "max_std": 5, "final_mean": 15, "final_std": 5}
    expected |= {"auc_mean": 13.75, "auc_std": 3.75, "steps": 300, "frames": 300}
    for key, value in expected.items():
        assert math.isclose(float(wn[key]), value), (key, wn[key])
    assert rows[0]["frames"] == "800"  # Atari: 4 frames per step, from evaluations.csv
    assert "paper_dqn" not in rows[0]
    markdown = (out / "results.md").read_text()
    assert "| CartPole-v1 | dqn | wn | 2 | 300 | 25.0 ± 5.0 | 15.0 ± 5.0 | 13.8 ± 3.8 |" in markdown
    assert "| CartPole-v1 | dqn | none | 1 | 300 | 8.0 | 8.0 | 5.8 |" in markdown
    assert "| CartPole-v1 | dqn | wn | 2 |" in printed and "paper DQN" not in printed
    for name in ("CartPole-v1.png", "ALE-Breakout-v5.png"):
        assert_png(out / name)
    assert sorted(p.name for p in out.iterdir()) == [
        "ALE-Breakout-v5.png",
        "CartPole-v1.png",
        "performance_profiles.png",
        "results.csv",
        "results.md",
        "statistics.csv",
    ]
    stats = {
        (r["score"], r["env"], r["norm"], r["statistic"]): r
        for r in read_csv(out / "statistics.csv")
    }
    # every score the reporting rules publish: IQM of two runs (nothing to trim) is their mean
    for score, value in {"max": 25.0, "final": 15.0, "auc": 13.75}.items():
        assert math.isclose(float(stats[(score, "CartPole-v1", "wn", "iqm")]["value"]), value)
    assert math.isclose(float(stats[("final", "CartPole-v1", "none", "iqm")]["value"]), 8.0)
    # P(wn > none) on CartPole: both runs (20, 10) beat the baseline's 8; Breakout has no
    # baseline run, so it does not count
    better = stats[("final", "all", "wn", "p_improvement_over_none")]
    assert float(better["value"]) == 1.0
    assert "IQM normalized [95% CI]" in markdown and "P(norm > none)" in markdown


def test_paper_columns(runs_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["compare", str(runs_root / "ALE-Breakout-v5"), "--out", str(out), "--paper"]
    assert wnrl_main(argv) == 0
    printed = capsys.readouterr().out
    (row,) = read_csv(out / "results.csv")
    assert (row["paper_dqn"], row["paper_dqn_wn"], row["mnih2015"]) == ("410", "403", "401")
    assert row["rlzoo_10m"] == "358.3"
    assert "| 410.0 | 403.0 | 401.0 | 358.3 |" in printed
    assert "Salimans & Kingma" in (out / "results.md").read_text()
    assert game_name("SpaceInvadersNoFrameskip-v4") == "SpaceInvaders"
    assert game_name("ALE/SpaceInvaders-v5") == "SpaceInvaders"


def test_resumed_runs_keep_the_restarted_branch(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    # evaluations.csv of a run resumed from its step-100 checkpoint: 200 and 300 logged twice
    run_dir = make_run(
        root,
        "CartPole-v1",
        "wn",
        0,
        [(100, 1.0), (200, 50.0), (300, 60.0), (200, 2.0), (300, 3.0)],
        scalars=[[(50, 1.0), (100, 2.0), (150, 3.0)], [(120, 5.0), (170, 6.0)]],
    )
    steps, values, ratio = read_evaluations(run_dir)
    assert steps.tolist() == [100, 200, 300] and values.tolist() == [1.0, 2.0, 3.0]
    assert ratio == 1
    steps, values = read_scalar(run_dir, TRAIN_TAG)
    assert steps.tolist() == [50, 100, 120, 170] and values.tolist() == [1.0, 2.0, 5.0, 6.0]
    result = compare([root], tmp_path / "out", metric="train")
    (row,) = result.rows
    assert row.steps == 170 and row.max_score == (6.0, 0.0) and row.final_score == (6.0, 0.0)
    assert "max train return" in result.markdown
    assert_png(result.figures[0])


def test_mean_curve_interpolates_without_extrapolating(tmp_path: Path) -> None:
    a = Run(tmp_path, {}, np.array([0, 10, 20]), np.array([0.0, 10.0, 20.0]))
    b = Run(tmp_path, {}, np.array([0, 20, 30]), np.array([0.0, 40.0, 50.0]))
    steps, mean, std, count = mean_curve([a, b])
    assert steps.tolist() == [0, 10, 20, 30]
    assert mean.tolist() == [0.0, 15.0, 30.0, 50.0] and count.tolist() == [2, 2, 2, 1]
    assert std.tolist() == [0.0, 5.0, 10.0, 0.0]
    assert area_under_curve(np.array([100]), np.array([7.0])) == 7.0


def test_groups_note_mixed_configs_and_skip_broken_runs(tmp_path: Path, capsys) -> None:
    root = tmp_path / "runs"
    make_run(root, "CartPole-v1", "wn", 0, [(100, 1.0)])
    make_run(root, "CartPole-v1", "wn", 1, [(100, 3.0)], config_extra={"n_timesteps": 999})
    make_run(root, "CartPole-v1", "ln", 0, evals=None)  # no evaluations
    broken = root / "CartPole-v1" / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("[not a mapping")
    bad_csv = make_run(root, "CartPole-v1", "bn", 0, [(100, 1.0)])
    (bad_csv / "evaluations.csv").write_text("step,mean\n100,not-a-number\n")
    assert wnrl_main(["compare", str(root), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "its runs differ in n_timesteps" in captured.err
    assert "dqn-ln-s0: no evaluations.csv rows" in captured.err
    assert "broken" in captured.err and "corrupt run config" in captured.err
    assert "dqn-bn-s0: corrupt" in captured.err and "evaluations.csv" in captured.err
    assert [r["norm"] for r in read_csv(tmp_path / "out" / "results.csv")] == ["wn"]


def test_bad_inputs_are_one_line_errors(runs_root: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert wnrl_main(["compare", str(empty), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wnrl: error: no wnrl run directory") and err.count("\n") == 1
    assert wnrl_main(["compare", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no such run directory" in err and err.count("\n") == 1
    no_evals = tmp_path / "no-evals"
    make_run(no_evals, "CartPole-v1", "wn", 0, evals=None)
    assert wnrl_main(["compare", str(no_evals), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--metric train" in err and err.count("\n") == 1
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert wnrl_main(["compare", str(runs_root), "--out", str(a_file)]) == 2
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: a bad --metric is a usage error
        wnrl_main(["compare", str(runs_root), "--out", str(tmp_path / "o"), "--metric", "best"])
    assert not (tmp_path / "o").exists()


def test_statistics_match_hand_computed_answers() -> None:
    """IQM, bootstrap CI, normalization and probability of improvement on inputs whose answers
    are known by hand (Agarwal et al. 2021 definitions, computed by rliable)."""
    from wnrl.analysis.statistics import compute

    scores = {
        ("CartPole-v1", "dqn", "none"): [100, 200, 300, 400, 500, 60, 70, 80],
        ("CartPole-v1", "dqn", "wn"): [500] * 8,
        ("Acrobot-v1", "dqn", "none"): [-500] * 8,
        ("Acrobot-v1", "dqn", "wn"): [-100] * 8,
    }
    games = {"CartPole-v1": "CartPole", "Acrobot-v1": "Acrobot"}
    stats = compute(scores, games, reps=500, seed=0)
    cartpole_none = stats.per_env[("dqn", "none")]["CartPole-v1"]
    # sorted: 60 70 80 100 200 300 400 500; the middle half is 80 100 200 300
    assert math.isclose(cartpole_none.value, 170.0)
    assert cartpole_none.low < 170.0 < cartpole_none.high
    wn = stats.per_env[("dqn", "wn")]["CartPole-v1"]
    assert (wn.value, wn.low, wn.high) == (500.0, 500.0, 500.0)  # constant: a point interval
    # normalized: CartPole (500 - 22) / (500 - 22) = 1, Acrobot (-100 + 500) / 400 = 1
    assert np.allclose(stats.normalized[("dqn", "wn")], 1.0)
    assert math.isclose(stats.aggregate_iqm[("dqn", "wn")].value, 1.0)
    # P(X > Y), ties 1/2: CartPole (7 wins + 1 tie) / 8 = 0.9375, Acrobot 1.0; mean 0.96875
    assert math.isclose(stats.improvement[("dqn", "wn")].value, 0.96875)
    assert ("dqn", "none") not in stats.improvement
    # an env without reference scores is normalized by the runs' own range
    other = compute({("X-v0", "dqn", "none"): [0, 10], ("X-v0", "dqn", "wn"): [5, 10]}, reps=200)
    assert other.references["X-v0"] == (0.0, 10.0, "from the runs")
    assert np.allclose(other.normalized[("dqn", "wn")], [[0.5], [1.0]])
    # reference scores given by the caller (the identity envs of the learning check)
    given = compute(
        {("X-v0", "dqn", "none"): [0, 10], ("X-v0", "dqn", "wn"): [5, 10]},
        reps=200,
        references={"X-v0": (0.0, 20.0)},
    )
    assert given.references["X-v0"] == (0.0, 20.0, "reference")
    assert np.allclose(given.normalized[("dqn", "wn")], [[0.25], [0.5]])


@pytest.mark.slow
def test_statistics_are_the_same_on_every_run(tmp_path: Path) -> None:
    """The same runs give byte-identical statistics.csv, whatever numpy's global generator
    holds before (rliable draws from it), and the caller's generator state is given back."""
    root = tmp_path / "runs"
    for seed, (none, wn) in enumerate([(1.0, 2.0), (5.0, 3.0), (2.0, 9.0), (7.0, 6.0), (3.0, 8.0)]):
        for env in ("CartPole-v1", "Acrobot-v1"):
            make_run(root, env, "none", seed, [(100, 0.0), (200, none * 10 - 100)])
            make_run(root, env, "wn", seed, [(100, 0.0), (200, wn * 10 - 100)])
    outputs = []
    for draw in (1, 12345):
        np.random.seed(draw)
        before = np.random.get_state()[1].copy()
        compare([root], tmp_path / f"out{draw}", reps=300)
        assert (np.random.get_state()[1] == before).all()  # the caller's state, untouched
        outputs.append((tmp_path / f"out{draw}" / "statistics.csv").read_bytes())
    assert outputs[0] == outputs[1]
    # another bootstrap seed draws other resamples: the seed is what fixes the intervals
    compare([root], tmp_path / "other", reps=300, seed=1)
    assert (tmp_path / "other" / "statistics.csv").read_bytes() != outputs[0]
