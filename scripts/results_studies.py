"""The studies ``scripts/results.py`` publishes: for each, what it reads from its committed raw
data (``docs/results/<study>/``) and the files, figures and Markdown blocks it makes from them.

Every comparison is the probability of improvement over a baseline, with a 95% interval, for
each score of the reporting rules (maximum, final, area under the curve), worded by
:func:`wnrl.analysis.reporting.verdict`; every study with more than one comparison says how
many it made and how many intervals chance alone would put outside 0.5.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from atari_check import CLEANRL_AT_1M, MARKS, last_training_return, training_return_at

from wnrl.analysis import compare, statistics
from wnrl.analysis.estimates import Estimate
from wnrl.analysis.plots import plot_env, plot_performance_profiles
from wnrl.analysis.reference_scores import REFERENCES
from wnrl.analysis.reporting import SCORE_NAMES, chance_note, ci, excludes_even, verdict
from wnrl.analysis.runs import Run, load_runs, read_evaluations
from wnrl.analysis.tables import csv_table, group_runs, markdown_table, summarize
from wnrl.experiment.rundir import read_config
from wnrl.names import AGENTS, BASELINE, NORMS, REFUSED_NORMS
from wnrl.nn.norms import NORM_DESCRIPTIONS

RESULTS = Path("docs/results")

Groups = dict[tuple[str, str, str], list[Run]]


@dataclass
class Output:
    """What a study publishes: whole files, figures (path -> draw into a given path) and the
    Markdown blocks pages quote by name."""

    files: dict[Path, str] = field(default_factory=dict)
    figures: dict[Path, Callable[[Path], Path]] = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=dict)

    def merge(self, other: Output) -> None:
        self.files.update(other.files)
        self.figures.update(other.figures)
        self.blocks.update(other.blocks)


def _agent_rank(agent: str) -> int:
    return AGENTS.index(agent) if agent in AGENTS else len(AGENTS)


@functools.cache
def load_groups(folder: Path) -> Groups:
    """The runs under ``folder`` grouped by env x agent x norm (every run must read), read once
    per process: several studies compare against the same runs."""
    runs, notes = load_runs([folder])
    if notes:
        raise SystemExit("results: " + "; ".join(notes))
    return group_runs(runs)


def score_statistics(groups: Groups) -> dict[str, statistics.Statistics]:
    """``wnrl compare``'s statistics of every published score; a published aggregate also
    needs a fixed reference for every env."""
    by_score = compare.score_statistics(groups)
    for env, (_, _, source) in by_score["final"].references.items():
        if source == statistics.FROM_THE_RUNS:
            raise SystemExit(
                f"results: {env} has no fixed reference score: add one, with its source, to "
                "wnrl/analysis/reference_scores.py"
            )
    return by_score


@dataclass(frozen=True)
class Comparison:
    agent: str
    label: str
    score: str
    estimate: Estimate
    seeds: int


def comparisons(by_score: dict[str, statistics.Statistics]) -> list[Comparison]:
    found = []
    for score, stats in by_score.items():
        for (agent, label), estimate in stats.improvement.items():
            found.append(Comparison(agent, label, score, estimate, stats.runs[(agent, label)]))
    return sorted(
        found, key=lambda c: (_agent_rank(c.agent), c.label, list(SCORE_NAMES).index(c.score))
    )


def reading(found: Sequence[Comparison]) -> str:
    """The reporting rules' words for one arm's comparisons, grouped by verdict."""
    by_words: dict[str, list[str]] = {}
    for c in found:
        by_words.setdefault(verdict(c.estimate, c.seeds), []).append(c.score)
    if len(by_words) == 1:
        return next(iter(by_words))
    return "; ".join(f"{words} ({', '.join(scores)})" for words, scores in by_words.items())


def chance_summary(found: Sequence[Comparison]) -> str:
    excluded = [c for c in found if excludes_even(c.estimate)]
    text = chance_note(len(found), len(excluded))
    if excluded:
        named = ", ".join(f"{c.agent} {c.label} {c.score} {ci(c.estimate)}" for c in excluded)
        text += f" Outside 0.5: {named}."
    return text


def improvement_table(by_score: dict[str, statistics.Statistics], label: str) -> str:
    """Per agent: the normalized IQM of the baseline and of ``label`` (final score), and
    P(label > baseline) for each score with the reporting rules' reading."""
    final = by_score["final"]
    found = [c for c in comparisons(by_score) if c.label == label]
    agents = sorted({c.agent for c in found}, key=_agent_rank)
    lines = [
        f"| agent | IQM normalized, final: {BASELINE} | {label} | "
        + " | ".join(f"P({label} > {BASELINE}): {score}" for score in SCORE_NAMES)
        + " | reading |",
        "|---|---|---|" + "---|" * len(SCORE_NAMES) + "---|",
    ]
    for agent in agents:
        mine = [c for c in found if c.agent == agent]
        cells = [
            ci(final.aggregate_iqm[(agent, BASELINE)]),
            ci(final.aggregate_iqm[(agent, label)]),
        ]
        cells += [ci(c.estimate) for c in mine]
        lines.append(f"| {agent} | " + " | ".join(cells) + f" | {reading(mine)} |")
    return "\n".join(lines) + "\n"


def _curves(groups: Groups, folder: Path, out: Output) -> list[str]:
    """One learning-curve figure per env (a panel per agent); their file names."""
    names = []
    for env in dict.fromkeys(env for env, _, _ in groups):
        name = f"{env.replace('/', '-')}.png"
        out.figures[folder / name] = lambda path, env=env: plot_env(env, groups, path)
        names.append(name)
    return names


def _study_files(
    groups: Groups, by_score: dict[str, statistics.Statistics], folder: Path, out: Output
) -> list[str]:
    """A study's summary.csv, statistics.csv, learning curves and performance profiles (of the
    final score); the figures' file names."""
    out.files[folder / "summary.csv"] = csv_table(summarize(groups))
    out.files[folder / "statistics.csv"] = statistics.to_csv(by_score)
    figures = _curves(groups, folder, out)
    out.figures[folder / "profiles.png"] = lambda path: plot_performance_profiles(
        by_score["final"], path, SCORE_NAMES["final"]
    )
    return [*figures, "profiles.png"]


def _report(
    title: str,
    folder: Path,
    intro: str,
    groups: Groups,
    by_score: dict[str, statistics.Statistics],
    figures: Sequence[str],
    extra: str = "",
) -> str:
    commands = (folder / "commands.txt").read_text().rstrip("\n")
    found = comparisons(by_score)
    parts = [
        f"# {title}\n",
        "<!-- generated by scripts/results.py from the raw data in runs/: do not edit -->\n",
        intro.rstrip("\n") + "\n",
        f"```bash\n{commands}\n```\n",
        "Per group (mean ± std over seeds): the maximum evaluation score (the paper's measure), "
        "the final score and the area under the evaluation curve per step.\n",
        markdown_table(summarize(groups)),
    ]
    for score, stats in by_score.items():
        parts.append(f"## {SCORE_NAMES[score].capitalize()}\n")
        parts.append(statistics.markdown(stats, SCORE_NAMES[score]))
    parts.append("## How many comparisons\n")
    parts.append(chance_summary(found) + "\n")
    if extra:
        parts.append(extra.rstrip("\n") + "\n")
    parts.append("## Figures\n")
    parts += [f"![{name}]({name})\n" for name in figures]
    return "\n".join(parts)


def learning_check(root: Path) -> Output:
    folder = root / RESULTS / "learning-check"
    groups = load_groups(folder / "runs")
    by_score = score_statistics(groups)
    out = Output()
    figures = _study_files(groups, by_score, folder, out)
    identity_md = identity_report(folder / "identity_scores.csv")
    intro = (
        "Every agent with `none`, `wn` and `wn+mobn`, each on its RL Zoo `classic` or "
        "`continuous` preset with this release's defaults, 5 seeds, the same seeds for every "
        "norm; every run's `config.yaml` and `evaluations.csv` is in `runs/`. Profiles: the "
        "final score."
    )
    extra = "## SB3's identity envs\n\n" + identity_md
    out.files[folder / "index.md"] = _report(
        "Learning check: six agents, classic control", folder, intro, groups, by_score,
        figures, extra,
    )  # fmt: skip
    out.blocks["learning-check/headline"] = improvement_table(by_score, "wn")
    out.blocks["learning-check/mobn"] = improvement_table(by_score, "wn+mobn")
    out.blocks["learning-check/chance"] = chance_summary(comparisons(by_score))
    out.blocks["learning-check/identity"] = identity_md
    return out


#: The MinAtar DQN study (the paper's sec. 5.4 table at CPU scale): its games, norms, seeds
#: per cell and steps per run; its runs are under docs/results/minatar-dqn/runs.
MINATAR_GAMES = ("MinAtar/Breakout-v1", "MinAtar/Seaquest-v1", "MinAtar/SpaceInvaders-v1")
MINATAR_NORMS = (BASELINE, "wn")
MINATAR_SEEDS = 5
MINATAR_STEPS = 1_000_000


def minatar_dqn(root: Path) -> Output:
    """DQN on MinAtar, ``none`` against ``wn``: per game and aggregated, every score."""
    folder = root / RESULTS / "minatar-dqn"
    if not (folder / "runs").is_dir():
        return _minatar_started(folder)
    groups = load_groups(folder / "runs")
    for (env, agent, norm), runs in groups.items():
        short = [run.run_dir.name for run in runs if run.steps[-1] < MINATAR_STEPS]
        if agent != "dqn" or env not in MINATAR_GAMES or norm not in MINATAR_NORMS or short:
            raise SystemExit(
                f"results: minatar-dqn holds a run outside the study ({env}, {agent}, {norm})"
                + (f" or short of {MINATAR_STEPS:,} steps: {', '.join(short)}" if short else "")
            )
    by_score = score_statistics(groups)
    out = Output()
    figures = _study_files(groups, by_score, folder, out)
    status = _minatar_status(groups)
    table = _minatar_table(groups, by_score)
    intro = (
        "DQN with the `minatar` preset (the MinAtar paper's settings: centered RMSprop, one "
        "update per step, epsilon 1 to 0.1 over the first 100k steps), `none` against `wn` "
        f"(this release's defaults), {MINATAR_STEPS:,} steps per run, an evaluation every 50k "
        "steps (10 games, epsilon 0.05), the same seeds for both norms; every run's "
        "`config.yaml` and `evaluations.csv` is in `runs/`. " + status
    )
    out.files[folder / "index.md"] = _report(
        "DQN on MinAtar: weight norm against none", folder, intro, groups, by_score, figures,
        "## Per game\n\n" + table,
    )  # fmt: skip
    out.blocks["minatar-dqn/table"] = table
    out.blocks["minatar-dqn/status"] = status + "\n"
    return out


def _minatar_started(folder: Path) -> Output:
    """The study's pages before its first run has finished."""
    status = _minatar_status({})
    commands = (folder / "commands.txt").read_text().rstrip("\n")
    index = (
        "# DQN on MinAtar: weight norm against none\n\n"
        "<!-- generated by scripts/results.py from the raw data in runs/: do not edit -->\n\n"
        f"```bash\n{commands}\n```\n\n{status}\n"
    )
    blocks = {"minatar-dqn/status": status + "\n", "minatar-dqn/table": ""}
    return Output(files={folder / "index.md": index}, blocks=blocks)


def _minatar_status(groups: Groups) -> str:
    """How much of the study's grid the committed runs cover."""
    cells = [(env, norm) for env in MINATAR_GAMES for norm in MINATAR_NORMS]
    counts = {cell: len(groups.get((cell[0], "dqn", cell[1]), [])) for cell in cells}
    done = sum(min(n, MINATAR_SEEDS) for n in counts.values())
    total = MINATAR_SEEDS * len(cells)
    if done >= total:
        return f"All {total} runs are in ({MINATAR_SEEDS} seeds per game and norm)."
    have = ", ".join(f"{env.split('/')[1]} {norm} {n}" for (env, norm), n in counts.items())
    return (
        f"In progress: {done} of {total} runs finished (seeds per game and norm: {have}); "
        "every figure here is of the finished runs only."
    )


def _comparable(groups: Groups) -> bool:
    """Whether every env of ``groups`` has at least two runs of each norm (an interval)."""
    envs = {env for env, _, _ in groups}
    return all(
        len(groups.get((env, "dqn", norm), [])) >= 2 for env in envs for norm in MINATAR_NORMS
    )


def _minatar_table(groups: Groups, by_score: dict[str, statistics.Statistics]) -> str:
    """Per game and aggregated: the IQM of each norm and P(wn > none), for every score."""
    header = "| game | score | IQM none | IQM wn | P(wn > none) | reading |"
    lines = [header, "|---|---|---|---|---|---|"]
    envs = [env for env in MINATAR_GAMES if any(key[0] == env for key in groups)]
    for env in envs:
        mine = {key: runs for key, runs in groups.items() if key[0] == env}
        per_env = score_statistics(mine) if _comparable(mine) else {}
        for score, stats in per_env.items():
            iqm = [ci(stats.per_env[("dqn", norm)][env], 1) for norm in MINATAR_NORMS]
            found = stats.improvement.get(("dqn", "wn"))
            words = verdict(found, stats.runs[("dqn", "wn")]) if found else "-"
            p = ci(found) if found else "-"
            lines.append(f"| {env} | {score} | {iqm[0]} | {iqm[1]} | {p} | {words} |")
    if len(envs) > 1 and _comparable(groups):
        for score, stats in by_score.items():
            iqm = [ci(stats.aggregate_iqm[("dqn", norm)]) for norm in MINATAR_NORMS]
            found = stats.improvement[("dqn", "wn")]
            words = verdict(found, stats.runs[("dqn", "wn")])
            lines.append(
                f"| all ({len(envs)} games, normalized) | {score} | {iqm[0]} | {iqm[1]} | "
                f"{ci(found)} | {words} |"
            )
    if len(lines) == 2:
        return "No game has two seeds of each norm yet: no interval to report.\n"
    note = (
        "\nIQM over seeds with 95% stratified-bootstrap intervals; per game the raw score, "
        "aggregated the normalized score (the random and best references of the results "
        "page's reference table); P(wn > none): the probability "
        "that a `wn` run beats a `none` run. "
        + "; ".join(f"{score}: {words}" for score, words in SCORE_NAMES.items())
        + ".\n"
    )
    return "\n".join(lines) + "\n" + note


def identity_report(path: Path) -> str:
    """IQM per identity env, agent and norm, and P(wn > none), from the runs' scores."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    scores: dict[tuple[str, str, str], list[float]] = {}
    for row in rows:
        scores.setdefault((row["env"], row["agent"], row["norm"]), []).append(float(row["score"]))
    stats = statistics.compute(scores)
    steps = sorted({int(row["steps"]) for row in rows})
    return (
        f"PPO and A2C on SB3's identity envs at SB3's test settings "
        f"({', '.join(f'{n:,}' for n in steps)} steps, "
        "gamma 0.4, mean of 20 episodes, scores 0 to 100; SB3's pass mark is 90), every run's "
        f"score in `{path.name}`:\n\n" + statistics.markdown(stats, "evaluation score")
    )


#: where the baselines of the ablations live, under docs/results: (runs folder, norm)
LEARNING_CHECK_NONE = ("learning-check/runs", BASELINE)
ADAMAX_NONE = ("ablations/runs/adamax", BASELINE)
#: the ablations: (runs folder under docs/results/ablations/runs, the norm of its runs there,
#: the row's label, its baseline)
ABLATIONS: tuple[tuple[str, str, str, tuple[str, str]], ...] = (
    ("wn-heads", "wn", "wn, WN output heads (plain_heads=false)", LEARNING_CHECK_NONE),
    ("gain-10", "wn", "wn, g at 10x the rate (gain_lr_scale=10)", LEARNING_CHECK_NONE),
    ("gain-0", "wn", "wn, g frozen (gain_lr_scale=0)", LEARNING_CHECK_NONE),
    ("gain-0.1", "wn", "wn, g at 0.1x the rate (gain_lr_scale=0.1)", LEARNING_CHECK_NONE),
    ("dqn-no-ddi", "wn", "wn, no data-dependent init (--no-ddi)", LEARNING_CHECK_NONE),
    ("adamax", "wn", "wn, Adamax at the preset's rate, against none with Adamax", ADAMAX_NONE),
    ("adamax-3x", "wn", "wn, Adamax at 3x the rate, against none with Adamax", ADAMAX_NONE),
)


def _runs_of(root: Path, folder: str, norm: str, label: str | None = None) -> Groups:
    """The runs of ``norm`` under ``docs/results/<folder>``, named ``label`` (else the norm)."""
    groups = load_groups(root / RESULTS / folder)
    return {(env, agent, label or n): runs for (env, agent, n), runs in groups.items() if n == norm}


def ablations(root: Path) -> Output:
    """P(variant > its baseline) per agent and score, a row per variant and score."""
    folder = root / RESULTS / "ablations"
    rows: list[tuple[str, list[Comparison]]] = []
    default_label = "wn, this release's defaults (the learning check)"
    arms = [("learning-check/runs", "wn", default_label, LEARNING_CHECK_NONE)]
    arms += [(f"ablations/runs/{name}", norm, label, base) for name, norm, label, base in ABLATIONS]
    for where, norm, label, (base_folder, base_norm) in arms:
        variant = _runs_of(root, where, norm, label)
        agents = {agent for _, agent, _ in variant}
        baseline = {
            key: runs
            for key, runs in _runs_of(root, base_folder, base_norm).items()
            if key[1] in agents
        }
        found = [
            c for c in comparisons(score_statistics({**baseline, **variant})) if c.label == label
        ]
        rows.append((label, found))
    found = [c for label, mine in rows[1:] for c in mine]
    agents = sorted({c.agent for _, mine in rows[1:] for c in mine}, key=_agent_rank)
    lines = [
        "| variant | score | " + " | ".join(agents) + " |",
        "|---|---|" + "---|" * len(agents),
    ]
    for label, mine in rows:
        for score in SCORE_NAMES:
            cells = []
            for agent in agents:
                hit = [c for c in mine if c.agent == agent and c.score == score]
                cells.append(f"{ci(hit[0].estimate)} {_mark(hit[0])}".strip() if hit else "")
            lines.append(f"| {label} | {score} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    legend = (
        "P(variant > baseline) with its 95% interval, over the envs of the learning check "
        "(DQN, PPO, A2C: CartPole and Acrobot); + better than the baseline, − worse (the "
        "interval excludes 0.5), no mark: no difference detected at 5 seeds. The baseline is "
        "the learning check's `none` runs, or `none` trained with Adamax for the Adamax rows; "
        "the first row is the learning check's own comparison, for reference.\n"
    )
    out = Output()
    commands = (folder / "commands.txt").read_text().rstrip("\n")
    out.blocks["ablations/table"] = table + "\n" + legend
    out.blocks["ablations/chance"] = chance_summary(found)
    out.files[folder / "index.md"] = "\n".join(
        [
            "# Ablations of weight norm's settings\n",
            "<!-- generated by scripts/results.py from the raw data in runs/: do not edit -->\n",
            "Each variant changes one setting of `wn` and is judged against `none` at the "
            "learning check's seeds and budgets (its runs in `runs/<variant>/`, the `none` runs "
            "in `../learning-check/runs/`).\n",
            f"```bash\n{commands}\n```\n",
            table,
            legend,
            "## How many comparisons\n",
            "Not counting the first row (the learning check's own): "
            + chance_summary(found)
            + "\n",
        ]
    )
    return out


def _mark(c: Comparison) -> str:
    words = verdict(c.estimate, c.seeds)
    return "+" if words.startswith("better") else "−" if words.startswith("worse") else ""


def atari_check(root: Path) -> Output:
    """PPO on Breakout, one seed per variant: training return and evaluations at each mark."""
    folder = root / RESULTS / "atari-check"
    variants = sorted(path for path in (folder / "runs").iterdir() if path.is_dir())
    header = [f"train {m // 1000}k" for m in MARKS] + [f"eval {m // 1000}k" for m in MARKS]
    lines = [
        "| run | norm, init | seed | "
        + " | ".join(header)
        + " | last train (step) | `none` at that step | max eval | final eval (step) |",
        "|---|---|---:|" + "---:|" * (len(header)) + "---|---:|---:|---|",
    ]
    baseline = next(
        path for path in variants if read_config(path / "config.yaml")["norm"] == BASELINE
    )
    for run_dir in variants:
        config = read_config(run_dir / "config.yaml", ("env", "norm", "seed"))
        init = f"init, heads {config['ddi_heads']}" if config.get("ddi") else "no init"
        train = [training_return_at(run_dir, mark) for mark in MARKS]
        step, value = last_training_return(run_dir)
        steps, values, _ = read_evaluations(run_dir)
        at = dict(zip(steps.tolist(), values.tolist(), strict=True))
        evals = [at.get(mark) for mark in MARKS]
        best = f"{values.max():.1f}" if len(values) else "-"
        last = f"{values[-1]:.1f} ({steps[-1]:,})" if len(values) else "-"
        cells = [_num(v) for v in train + evals]
        reach = min(step, last_training_return(baseline)[0])  # none's, where it stopped first
        beside = "" if run_dir == baseline else _num(training_return_at(baseline, reach))
        cells += [f"{value:.1f} ({step:,})", beside, best, last]
        lines.append(
            f"| {run_dir.name} | {config['norm']}, {init} | {config['seed']} | "
            + " | ".join(cells)
            + " |"
        )
    env = read_config(variants[0] / "config.yaml", ("env",))["env"]
    note = (
        f"\n{env}, PPO with RL Zoo's Atari settings. train: the training return "
        "(`rollout/ep_rew_mean` of `progress.csv`, whole games) last logged at or before the "
        "mark; eval: the evaluation at exactly that step (10 games); '-': the run stopped "
        f"before. CleanRL's PPO reaches {CLEANRL_AT_1M[env]} at 1M steps (its benchmark "
        "curves). One seed per variant: no interval, so no verdict between variants.\n"
    )
    out = Output()
    out.blocks["atari-check/table"] = "\n".join(lines) + "\n" + note
    return out


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def references(root: Path) -> Output:
    """The normalization references and their sources, from their one owner."""
    lines = ["| score key | random | best | source |", "|---|---:|---:|---|"]
    lines += [
        f"| {key} | {ref.random:g} | {ref.best:g} | {ref.source} |"
        for key, ref in REFERENCES.items()
    ]
    return Output(blocks={"references/table": "\n".join(lines) + "\n"})


def norms(root: Path) -> Output:
    """The norms table, from the one list of norms and their descriptions."""
    lines = ["| norm | what it is | agents |", "|---|---|---|"]
    for norm in NORMS:
        takers = [agent for agent in AGENTS if norm not in REFUSED_NORMS.get(agent, ())]
        agents = "all" if len(takers) == len(AGENTS) else ", ".join(takers)
        lines.append(f"| `{norm}` | {NORM_DESCRIPTIONS[norm]} | {agents} |")
    return Output(blocks={"norms/table": "\n".join(lines) + "\n"})


def init_scales(root: Path) -> Output:
    """The ratios the docs read off ``init-scales/output.txt``, computed from it."""
    text = (root / RESULTS / "init-scales" / "output.txt").read_text()
    value_std = {
        m[1]: float(m[2])
        for m in re.finditer(r"^BreakoutNoFrameskip-v4\s+(\S+)\s+\S+\s+(\S+)", text, re.M)
    }
    first_loss = {m[1]: float(m[2]) for m in re.finditer(r"^(keep|scale)\s+(\S+)", text, re.M)}
    none_loss = float(re.search(r"the none run .*?: (\S+) at its first", text)[1])
    sentence = (
        f"With `scale`, the value head's output std on Breakout is "
        f"{value_std['wn'] / value_std['none']:.1f} times `none`'s ({value_std['wn']:g} against "
        f"{value_std['none']:g}), and the first logged value loss is "
        f"{first_loss['scale'] / first_loss['keep']:.1f} times `keep`'s and "
        f"{first_loss['scale'] / none_loss:.0f} times the first value loss of the `none` run of "
        "the Atari check.\n"
    )
    return Output(blocks={"init-scales/reading": sentence})


_SCORE_LINE = re.compile(
    r"^(?P<case>[a-z0-9-]+)\s+(?P<seed>\d+)\s+(?P<sb3>[\d.]+) (?P<sb3_mark>pass|FAIL)\s+"
    r"(?P<wnrl>[\d.]+) (?P<wnrl_mark>pass|FAIL)",
    re.M,
)
#: one seed of a case: the score and pass mark of SB3's class, then of wnrl's
Scored = tuple[float, bool, float, bool]


def _learning_test_scores(text: str) -> dict[str, list[Scored]]:
    """``scripts/sb3_learning_tests.py``'s output, per case and seed, as the script judged it
    (its pass marks are its own: read here, not restated)."""
    scores: dict[str, list[Scored]] = {}
    for m in _SCORE_LINE.finditer(text):
        scored = (float(m["sb3"]), m["sb3_mark"] == "pass")
        scored += (float(m["wnrl"]), m["wnrl_mark"] == "pass")
        scores.setdefault(m["case"], []).append(scored)
    return scores


def sb3_learning_tests(root: Path) -> Output:
    """Pass counts and means of SB3's learning tests with SB3's and wnrl's classes, and the HER
    ablations, computed from the script's committed outputs."""
    folder = root / RESULTS / "sb3-learning-tests"
    scores = _learning_test_scores((folder / "output.txt").read_text())
    lines = [
        "| case | seeds | mean: SB3's class | wnrl's | passes: SB3's | wnrl's | wnrl's lower |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, seeds in scores.items():
        sb3 = sum(s[0] for s in seeds) / len(seeds)
        ours = sum(s[2] for s in seeds) / len(seeds)
        lines.append(
            f"| {case} | {len(seeds)} | {sb3:.2f} | {ours:.2f} | {sum(s[1] for s in seeds)} | "
            f"{sum(s[3] for s in seeds)} | {sum(s[2] < s[0] for s in seeds)} |"
        )
    her = ["| wnrl's policy kwargs | mean success: SB3's class | wnrl's |", "|---|---:|---:|"]
    for name in ("her-ablations.txt", "projection.txt"):
        text = (folder / name).read_text()
        sections = re.split(r"^(?=SB3's learning tests)", text, flags=re.M)
        for section in sections:
            setting = re.search(r"^wnrl's (?:policy_kwargs added: (.*)|defaults)$", section, re.M)
            seeds = _learning_test_scores(section).get("dqn-her-bitflip")
            if setting is None or not seeds:
                continue
            label = setting[1] or "(defaults)"
            sb3 = sum(s[0] for s in seeds) / len(seeds)
            ours = sum(s[2] for s in seeds) / len(seeds)
            her.append(f"| {label} | {sb3:.2f} | {ours:.2f} ({len(seeds)} seeds) |")
    return Output(
        blocks={
            "sb3-learning-tests/summary": "\n".join(lines) + "\n",
            "sb3-learning-tests/her": "\n".join(her) + "\n",
        }
    )


#: the whole-process benchmark outputs the performance summary reads, in its order
PERFORMANCE_RUNS = ("minatar-dqn-10k", "minatar-dqn-40k-1-thread", "atari-dqn-6k", "atari-ppo-16k")
_HEADER = re.compile(r"^(?P<workload>[\w-]+): (?P<steps>[\d,]+) steps, (?P<rounds>\d+) rounds")
_RATIO = re.compile(
    r"^  wnrl-wn vs (?P<reference>[\w-]+): (?P<ratio>[\d.]+x) \(rounds (?P<spread>[\d.]+\.\.[\d.]+)"
    r"(?:; goal >= (?P<goal>[\d.]+))?\)$"
)


def performance(root: Path) -> Output:
    """The whole-process ratios of ``scripts/bench_process.py``'s committed outputs as one
    table: wnrl with weight norm against the SB3 script, and against ``none``, with the goals."""
    rows = [
        "| workload | steps | compiled step | wnrl (wn) vs SB3 | goal | wn vs none | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in PERFORMANCE_RUNS:
        lines = (root / RESULTS / "performance" / f"{name}.txt").read_text().splitlines()
        header = _HEADER.match(lines[1])
        ratios = {m["reference"]: m for m in map(_RATIO.match, lines) if m is not None}
        if header is None or not {"sb3", "wnrl-none"} <= set(ratios):
            raise ValueError(f"{name}.txt is not a bench_process.py output")
        compiled = "on" if "--compile-optimizer=on" in lines[0] else "off"
        cells = [
            f"{ratios[ref]['ratio']} ({ratios[ref]['spread']})|>= {ratios[ref]['goal']}x"
            for ref in ("sb3", "wnrl-none")
        ]
        rows.append(
            f"| {header['workload']} | {header['steps']} | {compiled} | "
            + " | ".join(cell.replace("|", " | ") for cell in cells)
            + " |"
        )
    return Output(blocks={"performance/summary": "\n".join(rows) + "\n"})


def verbatim(root: Path) -> Output:
    """Evidence scripts' text outputs, quoted as they are: a quote cannot drift from them."""
    out = Output()
    for path in sorted((root / RESULTS).glob("*/*.txt")):
        if path.name == "commands.txt":
            continue
        name = f"{path.parent.name}/{path.stem}"
        out.blocks[name] = f"```\n{path.read_text().rstrip()}\n```\n"
    return out


STUDIES: tuple[Callable[[Path], Output], ...] = (
    learning_check,
    minatar_dqn,
    ablations,
    atari_check,
    norms,
    references,
    init_scales,
    sb3_learning_tests,
    performance,
    verbatim,
)
