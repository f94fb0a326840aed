"""``wn+proj``, Normalize-and-Project (Lyle et al. 2024): each weight-normalized layer's direction
``v`` back to unit norm after every optimizer step, the function unchanged."""

from __future__ import annotations

import pytest
import torch
from small_models import ALGOS, build
from torch import nn

from wnrl.callbacks import DataDependentInit
from wnrl.layers import weight_norm, weight_norm_layers
from wnrl.nn.projection import project_after_steps, project_directions_


def direction_norms(module: nn.Module) -> list[torch.Tensor]:
    return [
        torch.linalg.vector_norm(layer.v.detach().flatten(1), dim=1)
        for _, layer in weight_norm_layers(module)
    ]


def test_projection_keeps_the_function_and_unit_directions_after_steps() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 9, 3)))
    with torch.no_grad():
        for _, layer in weight_norm_layers(net):
            layer.v.mul_(3.0)  # ||v|| = 3 ||w||: a direction far from unit norm
    x = torch.randn(5, 2, 5, 5)
    before = net(x).detach()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    assert project_after_steps(optimizer, net) is not None
    assert project_after_steps(optimizer, net) is None  # idempotent
    torch.testing.assert_close(net(x), before)  # projected at once, function unchanged
    for norms in direction_norms(net):
        torch.testing.assert_close(norms, torch.ones_like(norms))
    for _ in range(5):
        optimizer.zero_grad()
        net(x).square().sum().backward()
        optimizer.step()
        for norms in direction_norms(net):
            torch.testing.assert_close(norms, torch.ones_like(norms))


def test_without_projection_the_direction_norm_grows() -> None:
    """Paper sec. 2.1: a gradient step is orthogonal to v, so ||v|| grows (what wn+proj undoes)."""
    torch.manual_seed(0)
    net = weight_norm(nn.Linear(8, 4))
    project_directions_(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    x = torch.randn(32, 8)
    for _ in range(5):
        optimizer.zero_grad()
        net(x).square().sum().backward()
        optimizer.step()
    assert (direction_norms(net)[0] > 1.0 + 1e-4).all()


def test_projection_skips_layers_the_optimizer_does_not_step() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)))
    with torch.no_grad():
        net[1].v.mul_(2.0)
    untouched = direction_norms(net)[1]
    optimizer = torch.optim.SGD(net[0].parameters(), lr=0.1)
    project_after_steps(optimizer, net)
    first, second = direction_norms(net)
    torch.testing.assert_close(first, torch.ones_like(first))
    assert not torch.allclose(untouched, torch.ones_like(untouched))
    torch.testing.assert_close(second, untouched)


def trained_networks(policy: nn.Module) -> list[nn.Module]:
    """The networks an optimizer steps (targets are copies, never stepped)."""
    names = ("q_net", "quantile_net", "actor", "critic")
    found = [getattr(policy, name) for name in names if hasattr(policy, name)]
    return found or [policy]  # PPO / A2C: the whole policy


def assert_unit_directions(policy: nn.Module) -> None:
    norms = [n for network in trained_networks(policy) for n in direction_norms(network)]
    assert norms
    for n in norms:
        torch.testing.assert_close(n, torch.ones_like(n))


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ALGOS))
def test_wn_proj_policies_keep_unit_directions_while_training(algo: str, tmp_path) -> None:
    model = build(algo, norm="wn+proj")
    assert_unit_directions(model.policy)
    model.learn(64, callback=DataDependentInit(n_samples=16))
    assert_unit_directions(model.policy)
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = ALGOS[algo].load(path, env=model.get_env())
    assert loaded.policy.norm == "wn+proj"
    loaded.learn(32, reset_num_timesteps=False)
    assert_unit_directions(loaded.policy)
