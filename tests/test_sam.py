"""SAM: exact perturb/restore and the two-gradient update."""

from __future__ import annotations

import pytest
import torch

from sastc.errors import TrainingDiverged
from sastc.train.sam import SAM, plain_step, sam_step


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


def test_perturb_moves_rho_along_gradient_and_restore_is_exact() -> None:
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    _loss(model, torch.randn(8, 5), torch.randint(0, 3, (8,)))
    grads = [p.grad.clone() for p in model.parameters()]
    sam = SAM(list(model.parameters()), rho=0.3)
    norm = sam.perturb()
    expected_norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    assert norm == pytest.approx(float(expected_norm), rel=1e-6)
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum()
                           for p, b in zip(model.parameters(), before, strict=True)))
    assert float(moved) == pytest.approx(0.3, rel=1e-5)
    sam.restore()
    for p, b in zip(model.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-7)


def test_sam_step_uses_gradient_at_perturbed_weights_of_second_batch() -> None:
    x1, y1 = torch.randn(8, 5), torch.randint(0, 3, (8,))
    x2, y2 = torch.randn(8, 5), torch.randint(0, 3, (8,))
    model, manual = _model(), _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sam_step(optimizer, SAM(list(model.parameters()), 0.2),
             lambda: _loss(model, x1, y1), lambda: _loss(model, x2, y2))
    # by hand: g1 at w (batch 1), e = rho g1/|g1|, g2 at w + e (batch 2), w - lr g2
    _loss(manual, x1, y1)
    params = list(manual.parameters())
    g1 = [p.grad.clone() for p in params]
    scale = 0.2 / torch.sqrt(sum((g ** 2).sum() for g in g1))
    with torch.no_grad():
        for p, g in zip(params, g1, strict=True):
            p.add_(g * scale)
            p.grad = None
    _loss(manual, x2, y2)
    with torch.no_grad():
        for p, g in zip(params, g1, strict=True):
            p.sub_(g * scale)
            p.sub_(0.1 * p.grad)
    for a, b in zip(model.parameters(), manual.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_non_finite_loss_stops_and_restores_weights() -> None:
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sam = SAM(list(model.parameters()), 0.2)
    x, y = torch.randn(4, 5), torch.randint(0, 3, (4,))

    def nan_loss() -> torch.Tensor:
        loss = _loss(model, x, y) * float("nan")
        return loss

    with pytest.raises(TrainingDiverged, match="second SAM gradient"):
        sam_step(optimizer, sam, lambda: _loss(model, x, y), nan_loss)
    for p, b in zip(model.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-7)
    with pytest.raises(TrainingDiverged, match="became nan"):
        plain_step(optimizer, nan_loss)
