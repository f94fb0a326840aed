"""The reporting rules every published comparison follows, as code.

* "better" or "worse" only where the 95% interval of the probability of improvement
  ``P(X > Y)`` excludes 0.5; otherwise "no difference detected at N seeds", with the interval;
* the paper's measure (the maximum evaluation score, Salimans & Kingma sec. 5.4) is reported
  beside the final score and the area under the curve (:data:`SCORE_NAMES`);
* a study that makes many comparisons says how many, and how many intervals chance alone
  would put outside 0.5 (:func:`chance_note`).
"""

from __future__ import annotations

from wnrl.analysis.estimates import Estimate

#: the per-run scores every published table reports, and what each is called in prose; the keys
#: are :data:`wnrl.analysis.runs.SCORES`'s
SCORE_NAMES: dict[str, str] = {
    "max": "maximum evaluation score (the paper's measure)",
    "final": "final evaluation score",
    "auc": "area under the evaluation curve per step (learning speed)",
}

#: coverage of every interval published
CONFIDENCE = 0.95


def ci(estimate: Estimate, digits: int = 2) -> str:
    """``value [low, high]`` with ``digits`` decimals."""
    return f"{estimate.value:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}]"


def excludes_even(estimate: Estimate) -> bool:
    """Whether the interval of a probability of improvement excludes 0.5 (no difference)."""
    return estimate.low > 0.5 or estimate.high < 0.5


def verdict(improvement: Estimate, seeds: int, baseline: str = "none") -> str:
    """The words a comparison may use: "better than none" / "worse than none" where the
    interval of ``P(X > baseline)`` excludes 0.5, else "no difference detected at N seeds"."""
    if improvement.low > 0.5:
        return f"better than {baseline}"
    if improvement.high < 0.5:
        return f"worse than {baseline}"
    return f"no difference detected at {seeds} seeds"


def chance_note(comparisons: int, excluded: int) -> str:
    """How many of ``comparisons`` intervals exclude 0.5, beside how many chance alone gives."""
    expected = comparisons * (1.0 - CONFIDENCE)
    return (
        f"{comparisons} comparisons, {excluded} of them with an interval that excludes 0.5; "
        f"where no difference exists, chance alone puts about {expected:.1f} of "
        f"{comparisons} {CONFIDENCE:.0%} intervals outside 0.5."
    )
