"""The LIF scan: hand-written backward against autograd, and the readout's closed form."""

from __future__ import annotations

import pytest
import torch

from sastc.train.lif import leaky_readout, lif_scan, lif_scan_reference


@pytest.mark.parametrize("mode", ["surrogate", "conventional"])
@pytest.mark.parametrize("beta", [0.0, 0.9, 1.0])
@pytest.mark.parametrize(("reset", "alpha"), [("zero", 0.0), ("subtract", 0.0),
                                              ("zero", 0.7), ("subtract", 0.5)])
def test_custom_backward_equals_autograd(mode: str, beta: float, reset: str,
                                         alpha: float) -> None:
    torch.manual_seed(1)
    current = (torch.randn(9, 3, 17, dtype=torch.float64) * 0.9).requires_grad_()
    reference = current.detach().clone().requires_grad_()
    spikes = lif_scan(current, beta, 1.0, 4.0, mode, reset, alpha, backend="torch")
    expected = lif_scan_reference(reference, beta, 1.0, 4.0, mode, reset, alpha)
    weights = torch.randn_like(spikes)
    (spikes * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(spikes, expected)
    torch.testing.assert_close(current.grad, reference.grad)
    assert 0.0 < float(spikes.detach().mean()) < 1.0


def test_hard_forward_is_heaviside_with_reset_to_zero() -> None:
    current = torch.tensor([[0.6], [0.6], [0.3], [2.0], [0.0]])
    spikes = lif_scan(current, 1.0, 1.0, 5.0, "hard")
    # u: 0.6, 1.2 (> 1 spike, reset), 0.3, 2.3 (spike), 0.0
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]


def test_threshold_comparison_is_strict() -> None:
    spikes = lif_scan(torch.tensor([[1.0], [0.0]]), 0.5, 1.0, 5.0, "hard")
    assert spikes.flatten().tolist() == [0.0, 0.0]


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.95, 1.0])
def test_leaky_readout_closed_form_equals_loop(beta: float) -> None:
    current = torch.randn(7, 4, 3, dtype=torch.float64)
    u = torch.zeros(4, 3, dtype=torch.float64)
    total = torch.zeros_like(u)
    for step in current:
        u = beta * u + step
        total += u
    torch.testing.assert_close(leaky_readout(current, beta), total / 7)


def test_hard_forward_subtract_reset_keeps_the_excess() -> None:
    current = torch.tensor([[0.6], [0.6], [0.3], [2.0], [0.0]])
    spikes = lif_scan(current, 1.0, 1.0, 5.0, "hard", reset="subtract")
    # u: 0.6, 1.2 (spike, 0.2), 0.5, 2.5 (spike, 1.5), 1.5 (spike)
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]


def test_synaptic_current_decays_with_alpha() -> None:
    current = torch.tensor([[0.8], [0.0], [0.0]])
    spikes = lif_scan(current, 1.0, 1.0, 5.0, "hard", alpha=0.5)
    # c: 0.8, 0.4, 0.2; u: 0.8, 1.2 (spike, 0), 0.2
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0]


def test_unknown_mode_reset_and_backend_are_rejected() -> None:
    with pytest.raises(ValueError, match="spike mode must be one of"):
        lif_scan(torch.zeros(2, 1), 0.9, 1.0, 5.0, "soft")
    with pytest.raises(ValueError, match="reset must be one of"):
        lif_scan(torch.zeros(2, 1), 0.9, 1.0, 5.0, "hard", reset="none")
    with pytest.raises(ValueError, match="scan backend must be one of"):
        lif_scan(torch.zeros(2, 1), 0.9, 1.0, 5.0, "hard", backend="cuda-magic")
