"""Progress-bar policy shared by every long-running step."""

from __future__ import annotations


def bar_disabled(wanted: bool) -> bool | None:
    """tqdm's ``disable`` value: off when not wanted, else automatic (shown on a terminal,
    hidden when stderr is a log file or pipe, where carriage-return bars only add noise)."""
    return None if wanted else True
