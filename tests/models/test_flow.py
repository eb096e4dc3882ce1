"""The Glow-style flow: exact invertibility and log-determinants, and it learns a density."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.models.flow import ActNorm, AffineCoupling, FlowConfig, InvertibleLinear, PoseFlow


def make_flow(k: int = 6, blocks: int = 3, seed: int = 0) -> PoseFlow:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(34, 34)))
    flow = PoseFlow(
        FlowConfig(n_components=k, blocks=blocks, hidden=16),
        np.zeros(34),
        basis.T,
        np.linspace(2.0, 0.5, 34),
        seed=seed,
    )
    # Non-trivial couplings and ActNorm (a fresh flow is close to the identity).
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)))
    return flow.double().eval()


def test_flow_is_invertible():
    flow = make_flow()
    z = torch.randn(64, 6, dtype=torch.float64)
    y, _ = flow(z)
    torch.testing.assert_close(flow.inverse(y), z, atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer", [ActNorm(4), InvertibleLinear(4), AffineCoupling(4, 8, 2.0)])
def test_each_layer_logdet_matches_autograd_jacobian(layer):
    layer = layer.double().eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    x = torch.randn(3, 4, dtype=torch.float64)
    _, logdet = layer(x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], x[i])
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1], atol=1e-8, rtol=0)


def test_whole_flow_logdet_matches_autograd_jacobian():
    flow = make_flow()
    z = torch.randn(2, 6, dtype=torch.float64)
    _, logdet = flow(z)
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], z[i])
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1], atol=1e-8, rtol=0)


def test_actnorm_initialises_to_zero_mean_unit_variance():
    layer = ActNorm(3).train()
    x = torch.randn(500, 3) * torch.tensor([1.0, 5.0, 0.1]) + 3.0
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std(0), torch.ones(3), atol=1e-3, rtol=0)


def test_fitting_raises_likelihood_of_the_data():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2000, 17, 2)) * 0.1
    data[:, 5, 0] += 0.8 * rng.choice([-1.0, 1.0], size=2000)  # bimodal: far from Gaussian
    flat = data.reshape(len(data), -1)
    var, vec = np.linalg.eigh(np.cov(flat.T))
    flow = PoseFlow(
        FlowConfig(n_components=8, blocks=2, hidden=32), flat.mean(0), vec[:, ::-1].T, var[::-1]
    )
    x = torch.as_tensor(data, dtype=torch.float32)
    flow.train()
    before = -flow.log_prob(x).mean().item()
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        (-flow.log_prob(x).mean()).backward()
        opt.step()
    assert -flow.log_prob(x).mean().item() < before - 0.5
    assert flow.sample(4).shape == (4, 17, 2)
