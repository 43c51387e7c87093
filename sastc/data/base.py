"""What every dataset hands to training, evaluation and the compiler."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sastc.errors import DataError

SPLITS = ("train", "val", "test", "calib")


@dataclass(frozen=True)
class FrameSet:
    """Binned event frames of one split.

    ``frames`` is ``uint8 [N, T, C, H, W]``: per time bin and pixel, the number
    of events (clipped at ``clip``; with ``clip == 1`` the frames are binary
    spikes). ``labels`` is ``int64 [N]``.
    """

    frames: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    dataset: str
    split: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames.ndim != 5 or self.frames.dtype != np.uint8:
            raise DataError(f"{self.dataset}/{self.split}: frames must be uint8 [N, T, C, H, W], "
                            f"got {self.frames.dtype} {self.frames.shape}")
        if self.labels.shape != (self.frames.shape[0],):
            raise DataError(f"{self.dataset}/{self.split}: {self.frames.shape[0]} samples but "
                            f"{self.labels.shape} labels")
        if len(self) == 0:
            raise DataError(f"{self.dataset}/{self.split}: the split is empty")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def time_bins(self) -> int:
        return int(self.frames.shape[1])

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one frame."""
        return tuple(int(d) for d in self.frames.shape[2:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices: np.ndarray) -> FrameSet:
        """The samples at ``indices``, same metadata."""
        return FrameSet(self.frames[indices], self.labels[indices], self.classes, self.dataset,
                        self.split, dict(self.meta))
