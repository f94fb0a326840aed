"""The names wnrl's layers, command line, tables and docs all use, each list defined once here
(standard library only, so the command line reads them without importing torch).

* :data:`AGENTS`: the algorithms wnrl trains (``wnrl train AGENT``);
* :data:`NORMS`: the normalizers (``--norm``, ``policy_kwargs=dict(norm=...)``), with
  :data:`BASELINE` the one every comparison is made against;
* :data:`REFUSED_NORMS`: the norms an agent does not take, and why (:func:`norm_refusal`);
* :data:`FAMILY_AGENTS`: the agents each family of wnrl policy classes serves;
* :data:`DDI_HEADS`: what the data-dependent init does to the plain output heads;
* :data:`WEIGHT_NORM_LOG_EVERY`: the default interval of the weight-norm diagnostics;
* :data:`COMPILE_CHOICES`, :data:`COMPILE_MIN_UPDATES`: when a run compiles its optimizer step
  (:mod:`wnrl.experiment.compiled_optimizer`).
"""

from __future__ import annotations

#: the algorithms, in the order wnrl lists them: DQN, QR-DQN (sb3-contrib), PPO, A2C, SAC, TD3
AGENTS: tuple[str, ...] = ("dqn", "qrdqn", "ppo", "a2c", "sac", "td3")

#: the normalizers: weight norm (paper eq. 2), with mean-only batch norm (sec. 4), with
#: Normalize-and-Project, none (SB3's network), LayerNorm, BatchNorm
NORMS: tuple[str, ...] = ("wn", "wn+mobn", "wn+proj", "none", "ln", "bn")
#: the norm every comparison is made against
BASELINE = "none"
#: the order of tables and figures: the baseline first
NORM_ORDER: tuple[str, ...] = (BASELINE, *(norm for norm in NORMS if norm != BASELINE))

#: the agents each family of wnrl policy classes serves (the classes' ``_wnrl_family``)
FAMILY_AGENTS: dict[str, tuple[str, ...]] = {
    "dqn": ("dqn",),
    "qrdqn": ("qrdqn",),
    "actor_critic": ("ppo", "a2c"),
    "sac": ("sac",),
    "td3": ("td3",),
}

#: why each refused norm is refused: the measurement that ruled it out, and where it is published
_REFUSAL_REASONS: dict[str, str] = {
    "wn+mobn": (
        "it learned worse than none by every score of wnrl's learning check (5 seeds, "
        "classic control: docs/results.md, 'Mean-only batch norm')"
    ),
}
#: agent -> the norms it refuses: ``wnrl train``, ``wnrl sweep`` and the policy constructors
#: give a one-line error with the reason instead of an agent that does not learn
REFUSED_NORMS: dict[str, frozenset[str]] = {
    agent: frozenset({"wn+mobn"}) for agent in ("ppo", "a2c", "sac", "td3")
}


def norm_refusal(agents: tuple[str, ...], norm: str) -> str | None:
    """The one-line error for ``norm`` if one of ``agents`` refuses it, else None."""
    refusing = [agent for agent in agents if norm in REFUSED_NORMS.get(agent, ())]
    if not refusing:
        return None
    takers = [agent for agent in AGENTS if norm not in REFUSED_NORMS.get(agent, ())]
    return (
        f"norm {norm!r} is not offered for {'/'.join(refusing)}: {_REFUSAL_REASONS[norm]}; "
        f"{', '.join(takers)} take it"
    )


#: the data-dependent init rescales the plain output heads to their role's scale, or keeps
#: SB3's init of them; the first is the default
DDI_HEADS: tuple[str, ...] = ("scale", "keep")

#: environment steps between two records of the weight-norm diagnostics (||v||, g, g/||v||)
WEIGHT_NORM_LOG_EVERY = 1000

#: the values of a run's ``compile_optimizer`` setting (``--compile-optimizer``); the first is
#: the default
COMPILE_CHOICES: tuple[str, ...] = ("auto", "on", "off")
#: ``auto`` compiles the optimizer step of runs with at least this many gradient updates left
#: (compile time against the time saved per update: docs/performance.md)
COMPILE_MIN_UPDATES = 100_000
