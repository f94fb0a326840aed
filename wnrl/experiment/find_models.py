"""Find the model to evaluate: a run's final model or latest checkpoint, or a bare model.zip."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnrl.envs.ids import canonical_env_id
from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.checkpoints import latest_checkpoint
from wnrl.experiment.evaluate import evaluation_env
from wnrl.experiment.rundir import CHECKPOINTS, CONFIG, FINAL_MODEL, LATEST, read_config
from wnrl.sb3.model_files import load

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm


def _latest_checkpoint_model(run_dir: Path) -> Path | None:
    """``checkpoints/<latest>/model.zip`` of a run, None when there is no ``latest``."""
    checkpoint = latest_checkpoint(run_dir)
    return None if checkpoint is None else checkpoint / FINAL_MODEL


def find_model(
    target: str | os.PathLike[str], env_id: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """The model file to evaluate and its run configuration.

    ``target`` is a run directory of ``wnrl train`` (its ``config.yaml``, and its final
    ``model.zip`` or, while the run has none, the newest checkpoint's, named by
    ``checkpoints/latest``), or a model file (``.zip`` may be left out, as SB3 allows) or a
    directory holding a ``model.zip`` but no ``config.yaml`` (a checkpoint), whose
    configuration is a ``config.yaml`` beside the model, or the run's when the model is
    ``<run>/checkpoints/<name>/model.zip``. Without any ``config.yaml``, ``env_id`` must be
    given.

    Returns:
        ``(model_path, config)``: ``config`` is a copy of the run configuration (``{}`` plus the
        keys below without one) where ``env`` is the canonical env id (``env_id`` when given,
        which overrides the run's), ``env_kwargs`` is a dict and ``model_path`` the model file.

    Raises:
        WnrlError: a missing path, a directory without ``config.yaml`` or model, an unreadable
            or corrupt ``config.yaml`` or ``checkpoints/latest``; ConfigError: no env id known,
            or an unknown one. The message is one line naming the path.
    """
    path = Path(target)
    config_path: Path | None = None
    if path.is_dir() and not (path / CONFIG).is_file():
        if not (path / FINAL_MODEL).is_file():  # e.g. a checkpoint directory is fine
            raise WnrlError(
                f"{path} is not a wnrl run directory: it has no {CONFIG} (nor {FINAL_MODEL})"
            )
        path = path / FINAL_MODEL
    if path.is_dir():
        config_path = path / CONFIG
        model = path / FINAL_MODEL
        if not model.is_file():
            found = _latest_checkpoint_model(path)
            if found is None:
                raise WnrlError(
                    f"run directory {path} holds no model: no {FINAL_MODEL} and no "
                    f"{CHECKPOINTS}/{LATEST}"
                )
            model = found
    else:
        if path.is_file():
            model = path
        elif Path(f"{path}.zip").is_file():
            model = Path(f"{path}.zip")
        else:
            raise WnrlError(f"no such run directory or model file: {path}")
        beside = model.parent / CONFIG
        run_config = model.parent.parent.parent / CONFIG
        if beside.is_file():
            config_path = beside
        elif model.parent.parent.name == CHECKPOINTS and run_config.is_file():
            config_path = run_config
    config = read_config(config_path) if config_path is not None else {"env_kwargs": {}}
    if env_id is None:
        env_id = config.get("env")
        if env_id is None:
            where = (
                f"{config_path} names no env"
                if config_path
                else f"no {CONFIG} beside it or in its run directory"
            )
            raise ConfigError(
                f"cannot tell which env to evaluate {model} on ({where}); give an env id"
            )
        try:
            env_id = canonical_env_id(env_id)
        except ConfigError as error:
            raise ConfigError(f"{config_path}: {error}") from error
    config["env"] = canonical_env_id(env_id)
    config["model_path"] = str(model)
    return model, config


def load_for_evaluation(
    target: str | os.PathLike[str],
    env_id: str | None = None,
    device: str = "auto",
    weights_only: bool = False,
) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """Load the model of a run directory or a model file (see :func:`find_model`) for
    evaluation, with :func:`wnrl.sb3.model_files.load` (algorithm detected from the file).

    ``weights_only=True`` unpickles nothing from the file; the spaces then come from a one-env
    :func:`evaluation_env` of the run's env (built for the load, closed after it), which also
    checks that the model fits that env. The returned model has no env attached.

    Returns:
        ``(model, config)``: ``config`` as :func:`find_model` returns it, plus ``agent``
        (the algorithm's lower-case name) and ``norm`` when the run config lacks them.
    """

    model_path, config = find_model(target, env_id)
    if weights_only:
        backend = config.get("backend") or "auto"
        env = evaluation_env(config["env"], n_envs=1, backend=backend, **config["env_kwargs"])
        try:
            model = load(model_path, env=env, device=device, weights_only=True)
        finally:
            env.close()
        model.env = None
    else:
        model = load(model_path, env=None, device=device, weights_only=False)
    config.setdefault("agent", type(model).__name__.lower())
    config.setdefault("norm", getattr(model.policy, "norm", None))
    return model, config
