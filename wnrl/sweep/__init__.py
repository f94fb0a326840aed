"""Many ``wnrl train`` runs over a grid env x norm x seed, locally or on Ray (``wnrl sweep``).

::

    wnrl sweep classic --agent dqn --norm none,wn --seeds 3 --steps 50000
    wnrl sweep atari-paper --agent dqn --preset paper --norm none,wn --backend ray --address auto

* **Grid.** Each positional argument is an env suite (``envs/<name>.yaml``: ``classic``,
  ``atari-paper``, ...) or an environment id; ``--norm`` a comma list; ``--seeds N`` the seeds
  ``0..N-1`` (or an explicit comma list such as ``--seeds 1,4,7``).
* **Validated up front.** Every cell's configuration is built with
  :func:`wnrl.experiment.config.build_config` before anything runs, so an unknown suite, env,
  agent, norm, preset or hyperparameter is a one-line :class:`~wnrl.errors.ConfigError` (CLI
  exit code 2) and no run starts. A cell whose run directory already holds a run with a different
  configuration (other ``--steps``, ``--hp``, preset...) is also refused up front.
* **Run directories.** One per cell, deterministic, so that re-running the same command finds
  them: ``<logdir>/<env>/<agent>-<norm>-s<seed>/`` (``/`` in the env id becomes ``-``), with
  exactly the layout of ``wnrl train`` (config.yaml, TensorBoard events, evaluations.csv,
  checkpoints/, model.zip); the run's own output goes to ``<run_dir>.log`` beside it.
  ``<logdir>/sweep.yaml`` is the manifest: the grid, the options and each cell's status,
  rewritten atomically as cells finish.
* **Re-running** the same sweep skips finished cells (``model.zip`` present), resumes
  interrupted ones from their latest checkpoint (:func:`wnrl.experiment.train.resume_run`) and
  restarts cells that died before their first checkpoint. A failed cell is reported and the
  others go on; the exit code is 0 when every cell succeeded, 1 when some failed, 130 after
  Ctrl-C (the running cells write a checkpoint first, so the next run resumes them).
* **Backends.** ``local`` (default): a bounded pool of worker processes (``spawn``), one
  process per run (a crash or a leak stays in its run), at most ``--max-parallel`` at a time
  (default: one per core, at most 4 per GPU when CUDA is present), each with its torch/OpenMP
  threads limited to ``--cpus-per-run`` (default: cores // parallel runs), runs spread over
  the GPUs. ``ray``: one Ray task per run asking for ``--cpus-per-run`` CPUs and
  ``--gpus-per-run`` GPUs (default: the cluster's GPUs shared evenly between the parallel
  runs); ``ray.init()`` starts Ray in-process, ``--address`` joins a cluster (the logdir must
  then be on a filesystem every node sees, and wnrl installed on every node). Ray is an
  optional extra: ``pip install 'wnrl[ray]'``.

The modules: :mod:`wnrl.sweep.grid` (the cells), :mod:`wnrl.sweep.worker` (one cell in a worker
process), :mod:`wnrl.sweep.local_executor` and :mod:`wnrl.sweep.ray_executor` (the backends),
:mod:`wnrl.sweep.run` (run a sweep, its manifest and report).
"""

#: Where a sweep's runs go: local worker processes, or Ray tasks.
EXECUTORS = ("local", "ray")
