"""Fixtures of the wnrl.sb3 tests: saved models of every algorithm, a guard against unpickling."""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle
import pytest
from saved_models import Saved, save_models


@pytest.fixture(scope="session")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Saved]:
    """Every spec trained for 128 steps and saved (tests that use it train an agent: slow)."""
    return save_models(tmp_path_factory.mktemp("trained"), steps=128)


@pytest.fixture(scope="session")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Saved]:
    """Every spec saved as built, untrained: model files for the tests of refusals."""
    return save_models(tmp_path_factory.mktemp("untrained"), steps=0)


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything calls pickle / cloudpickle's loaders."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("something was unpickled")

    for module in (pickle, cloudpickle):
        monkeypatch.setattr(module, "loads", refuse)
        monkeypatch.setattr(module, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
