"""Fixtures of the wnrl.nn tests."""

from __future__ import annotations

import pytest

import wnrl.nn.layers as nn_layers


@pytest.fixture(params=["weight", "cheap"])
def linear_form(request, monkeypatch) -> str:
    """Run a test on both WeightNormLinear paths: F.linear with the normalized weight (small
    layers) and eq. 3's cheap form (large layers), by moving the size threshold."""
    if request.param == "cheap":
        monkeypatch.setattr(nn_layers, "CHEAP_FORM_MIN_WEIGHTS", 0)
        monkeypatch.setattr(nn_layers, "CHEAP_ACT_MIN_WEIGHTS", 0)
    return request.param
