"""The models ``train_speed.py`` times: sastc in its training modes, snnTorch, SpikingJelly."""

from __future__ import annotations

import importlib.util
import os
from unittest import mock

import torch
from snntorch_baseline import SnnTorchNet, copy_weights
from spikingjelly_baseline import SpikingJellyNet
from torch import nn

from sastc.spec import ArchSpec
from sastc.train.model import SpikingNet, Trace, init_weights

INIT_GAIN = 2.0  # sastc's default --init-gain


def spikingjelly_installed() -> bool:
    return importlib.util.find_spec("spikingjelly") is not None


class ScanBackend(nn.Module):
    """``model`` with its LIF scans forced to ``backend`` (``$SASTC_SCAN`` during forward; the
    backward pass belongs to the scan the forward chose)."""

    def __init__(self, model: SpikingNet, backend: str) -> None:
        super().__init__()
        self.model, self.backend = model, backend

    def forward(self, frames: torch.Tensor, trace: Trace | None = None) -> torch.Tensor:
        with mock.patch.dict(os.environ, {"SASTC_SCAN": self.backend}):
            return self.model(frames, trace)


def make_models(spec: ArchSpec, seed: int, device: str = "cpu", torch_scan: bool = False
                ) -> dict[str, nn.Module]:
    """sastc in its two training modes, snnTorch (step-wise and folded) and SpikingJelly
    (multi-step; where installed), all with the same weights, on ``device``."""
    torch.manual_seed(seed)
    models: dict[str, nn.Module] = {}
    for mode in ("conventional", "surrogate"):
        model = SpikingNet(spec, mode)
        init_weights(model, INIT_GAIN, seed)
        models[f"sastc-{mode}"] = model
    if torch_scan:
        for mode in ("conventional", "surrogate"):
            twin = SpikingNet(spec, mode)
            twin.load_state_dict(models[f"sastc-{mode}"].state_dict())
            models[f"sastc-{mode}-torch-scan"] = ScanBackend(twin, "torch")
    for name, fold in (("snntorch", False), ("snntorch-folded", True)):
        model = SnnTorchNet(spec, fold_synapses=fold)
        copy_weights(models["sastc-conventional"], model)
        models[name] = model
    if spikingjelly_installed():
        model = SpikingJellyNet(spec)
        copy_weights(models["sastc-conventional"], model)
        models["spikingjelly"] = model
    return {name: model.to(device) for name, model in models.items()}
