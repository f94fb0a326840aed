"""One run: its configuration and presets, run directory and checkpoints, training, evaluation
and video.

* :mod:`wnrl.experiment.presets` (``agents/*.yaml``, ``envs/*.yaml``) and
  :mod:`wnrl.experiment.config` (the resolved, validated configuration of a run);
* :mod:`wnrl.experiment.rundir` (every file name of a run directory), :mod:`...checkpoints`
  (atomic checkpoints), :mod:`...run_logs` (logs that survive a resume), :mod:`...locks`;
* :mod:`wnrl.experiment.train` (the run's lifecycle) and :mod:`...run_callbacks`;
* :mod:`wnrl.experiment.evaluate`, :mod:`...find_models`, :mod:`...video`;
* :mod:`wnrl.experiment.demo` (``wnrl demo``).
"""
