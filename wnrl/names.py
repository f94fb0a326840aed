"""The names wnrl's layers, command line, tables and docs all use, each list defined once here
(standard library only, so the command line reads them without importing torch).

* :data:`AGENTS`: the algorithms wnrl trains (``wnrl train AGENT``);
* :data:`NORMS`: the normalizers (``--norm``, ``policy_kwargs=dict(norm=...)``), with
  :data:`BASELINE` the one every comparison is made against;
* :data:`DDI_HEADS`: what the data-dependent init does to the plain output heads;
* :data:`WEIGHT_NORM_LOG_EVERY`: the default interval of the weight-norm diagnostics;
* :data:`COMPILE_CHOICES`, :data:`COMPILE_MIN_STEPS`: when a run compiles its optimizer step
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

#: the data-dependent init rescales the plain output heads to their role's scale, or keeps
#: SB3's init of them; the first is the default
DDI_HEADS: tuple[str, ...] = ("scale", "keep")

#: environment steps between two records of the weight-norm diagnostics (||v||, g, g/||v||)
WEIGHT_NORM_LOG_EVERY = 1000

#: the values of a run's ``compile_optimizer`` setting (``--compile-optimizer``); the first is
#: the default
COMPILE_CHOICES: tuple[str, ...] = ("auto", "on", "off")
#: ``auto`` compiles the optimizer step of runs of at least this many env steps (a cold compile
#: took about 20 s; the compiled step saved about 0.4 ms per MinAtar DQN update)
COMPILE_MIN_STEPS = 100_000
