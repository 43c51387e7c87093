"""What passes read and write: one compile's state, and the report they fill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sastc.data.base import FrameSet
from sastc.ir.graph import Graph
from sastc.ir.layers import FloatNet
from sastc.ir.quantized import QNet
from sastc.targets import Board, Profile

Log = Callable[[str], None]


@dataclass
class CompileContext:
    """State shared by the passes of one compile, in the order the target gives.

    ``fold`` sets ``float_net``; ``calibrate`` sets ``threshold_scales``;
    ``quantize`` sets ``qnet``; ``check`` only reads. Each pass writes its own
    section of ``report``.
    """

    graph: Graph
    profile: Profile
    board: Board | None = None
    calib: FrameSet | None = None
    calibrate_method: str | None = None
    calibrate_enabled: bool = True
    progress: bool = True
    float_net: FloatNet | None = None
    threshold_scales: list[float] | None = None
    qnet: QNet | None = None
    report: dict[str, Any] = field(default_factory=dict)
    log: Log = print

    def require_float_net(self, pass_name: str) -> FloatNet:
        if self.float_net is None:
            from sastc.errors import TargetError

            raise TargetError(f"pass {pass_name!r} needs 'fold' to run before it; "
                              f"profile {self.profile.name!r} orders {list(self.profile.passes)}")
        return self.float_net
