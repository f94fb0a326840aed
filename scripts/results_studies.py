"""The studies ``scripts/results.py`` publishes: for each, what it reads from its committed raw
data (``docs/results/<study>/``) and the files, figures and Markdown blocks it makes from them.

Every comparison is the probability of improvement over a baseline, with a 95% interval, for
each score of the reporting rules (maximum, final, area under the curve), worded by
:func:`wnrl.analysis.reporting.verdict`; every study with more than one comparison says how
many it made and how many intervals chance alone would put outside 0.5.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from atari_check import CLEANRL_AT_1M, MARKS, STEP_TAG, TRAIN_TAG, training_return_at

from wnrl.analysis import statistics
from wnrl.analysis.compare import run_scores
from wnrl.analysis.estimates import Estimate
from wnrl.analysis.plots import plot_env, plot_performance_profiles
from wnrl.analysis.reference_scores import REFERENCES
from wnrl.analysis.reporting import SCORE_NAMES, chance_note, ci, excludes_even, verdict
from wnrl.analysis.runs import Run, load_runs, read_evaluations, score_key
from wnrl.analysis.tables import csv_table, group_runs, markdown_table, summarize
from wnrl.experiment.presets import ALGORITHMS
from wnrl.experiment.rundir import PROGRESS, read_config
from wnrl.nn.norms import NORM_DESCRIPTIONS, NORMS

RESULTS = Path("docs/results")
BASELINE = statistics.BASELINE
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
    order = list(ALGORITHMS)
    return order.index(agent) if agent in order else len(order)


def load_groups(paths: Sequence[Path], label: str | None = None) -> Groups:
    """Runs under ``paths`` grouped by env x agent x norm; ``label`` replaces the norm (an
    ablation's runs, named by what they change)."""
    runs, notes = load_runs(paths)
    if notes:
        raise SystemExit("results: " + "; ".join(notes))
    groups = group_runs(runs)
    if label is None:
        return groups
    return {(env, agent, label): runs for (env, agent, _), runs in groups.items()}


def score_statistics(groups: Groups) -> dict[str, statistics.Statistics]:
    """The statistics of every score the reporting rules publish, seeded; a published
    aggregate needs a fixed reference for every env."""
    keys = {env: score_key(env) for env, _, _ in groups}
    by_score = {name: statistics.compute(run_scores(groups, name), keys) for name in SCORE_NAMES}
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


def _figure(draw: Callable[..., Path], *args) -> Callable[[Path], Path]:
    return lambda path: draw(*args, path)


def _curves(groups: Groups, folder: Path, out: Output) -> list[str]:
    """One learning-curve figure per env (a panel per agent); their file names."""
    names = []
    for env in dict.fromkeys(env for env, _, _ in groups):
        name = f"{env.replace('/', '-')}.png"
        out.figures[folder / name] = lambda path, env=env: plot_env(env, groups, path)
        names.append(name)
    return names


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
    groups = load_groups([folder / "runs"])
    by_score = score_statistics(groups)
    out = Output()
    figures = _curves(groups, folder, out)
    out.figures[folder / "profiles.png"] = _figure(plot_performance_profiles, by_score["final"])
    figures.append("profiles.png")
    identity_md = identity_report(folder / "identity_scores.csv")
    out.files[folder / "summary.csv"] = csv_table(summarize(groups))
    out.files[folder / "statistics.csv"] = statistics.to_csv(by_score)
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


def identity_report(path: Path) -> str:
    """IQM per identity env, agent and norm, and P(wn > none), from the runs' scores."""
    scores: dict[tuple[str, str, str], list[float]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["env"], row["agent"], row["norm"])
            scores.setdefault(key, []).append(float(row["score"]))
    stats = statistics.compute(scores)
    steps = {row["steps"] for row in csv.DictReader(open(path, newline=""))}
    return (
        f"PPO and A2C on SB3's identity envs at SB3's test settings ({', '.join(steps)} steps, "
        "gamma 0.4, mean of 20 episodes, scores 0 to 100; SB3's pass mark is 90), every run's "
        f"score in `{path.name}`:\n\n" + statistics.markdown(stats, "evaluation score")
    )


#: the ablations: (runs folder under docs/results/ablations/runs, label, baseline study);
#: the baseline is the learning check's `none` runs unless it names another folder
ABLATIONS: tuple[tuple[str, str, str | None], ...] = (
    ("gain-0", "wn, g frozen (gain_lr_scale=0)", None),
    ("gain-0.1", "wn, g at 0.1x (gain_lr_scale=0.1)", None),
    ("gain-10", "wn, g at 10x (gain_lr_scale=10)", None),
    ("wn-heads", "wn, WN output heads (plain_heads=false)", None),
    ("dqn-no-ddi", "wn, no data-dependent init (--no-ddi)", None),
    ("adamax-3x", "wn, Adamax at 3x the rate", "adamax"),
)


def ablations(root: Path) -> Output:
    folder = root / RESULTS / "ablations"
    base_runs = root / RESULTS / "learning-check" / "runs"
    base = load_groups([base_runs])
    baseline = {key: runs for key, runs in base.items() if key[2] == BASELINE}
    default = {key: runs for key, runs in base.items() if key[2] == "wn"}
    arms: list[tuple[str, Groups, Groups]] = []  # label, arm's runs, its baseline's
    for name, label, other in ABLATIONS:
        if other is None:
            arms.append((label, load_groups([folder / "runs" / name], label), baseline))
    adamax = load_groups([folder / "runs" / "adamax"])
    adamax_none = {key: runs for key, runs in adamax.items() if key[2] == BASELINE}
    adamax_wn = {
        (e, a, "wn, Adamax at the same rate"): r for (e, a, n), r in adamax.items() if n == "wn"
    }
    arms.append(("wn, Adamax at the same rate", adamax_wn, adamax_none))
    for name, label, other in ABLATIONS:
        if other == "adamax":
            arms.append((label, load_groups([folder / "runs" / name], label), adamax_none))
    found: list[Comparison] = []
    agents_of: dict[str, list[str]] = {}
    for label, runs, against in arms:
        agents = {agent for _, agent, _ in runs}
        pair = {**{k: v for k, v in against.items() if k[1] in agents}, **runs}
        found += [c for c in comparisons(score_statistics(pair)) if c.label == label]
        agents_of[label] = sorted(agents, key=_agent_rank)
    reference = [c for c in comparisons(score_statistics({**baseline, **default}))]
    agents = sorted({c.agent for c in found}, key=_agent_rank)
    lines = [
        "| variant | score | " + " | ".join(agents) + " |",
        "|---|---|" + "---|" * len(agents),
    ]
    rows = [("wn, this release's defaults (learning check)", reference)]
    rows += [(label, [c for c in found if c.label == label]) for label, _, _ in arms]
    for label, mine in rows:
        for score in SCORE_NAMES:
            cells = []
            for agent in agents:
                hit = [c for c in mine if c.agent == agent and c.score == score]
                cells.append(f"{ci(hit[0].estimate)} {_mark(hit[0])}" if hit else "")
            lines.append(f"| {label} | {score} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    legend = (
        "P(variant > none) with its 95% interval; + better than `none`, − worse (the interval "
        "excludes 0.5), blank mark: no difference detected at the seeds run. Adamax rows are "
        "judged against `none` trained with Adamax at the classic preset's rate.\n"
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
            chance_summary(found) + "\n",
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
        + " | last train (step) | max eval | final eval (step) |",
        "|---|---|---:|" + "---:|" * (len(header)) + "---|---:|---|",
    ]
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
        cells += [f"{value:.1f} ({step:,})", best, last]
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


def last_training_return(run_dir: Path) -> tuple[int, float]:
    """The last (step, training return) of ``progress.csv``."""
    last = (0, float("nan"))
    with open(run_dir / PROGRESS, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get(TRAIN_TAG) and row.get(STEP_TAG):
                last = (int(float(row[STEP_TAG])), float(row[TRAIN_TAG]))
    return last


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
    lines = ["| norm | what it is |", "|---|---|"]
    lines += [f"| `{norm}` | {NORM_DESCRIPTIONS[norm]} |" for norm in NORMS]
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
    ablations,
    atari_check,
    norms,
    references,
    init_scales,
    verbatim,
)
