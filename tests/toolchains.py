"""Finding the C toolchains the C tests need: skip with the reason when one is missing,
or fail when ``SASTC_REQUIRE_TOOLCHAINS=1`` (CI sets it)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, hint: str) -> str:
    """Path of ``name`` on PATH; otherwise skip (saying ``hint``) or, in CI, fail."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("SASTC_REQUIRE_TOOLCHAINS") == "1":
            pytest.fail(f"{name} is required (SASTC_REQUIRE_TOOLCHAINS=1) but not on PATH")
        pytest.skip(f"{name} not found: {hint} (or set SASTC_REQUIRE_TOOLCHAINS=1 to make "
                    f"this a failure)")
    return path
