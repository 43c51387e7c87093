"""Architecture specs: parsing, shapes, round trips and clear errors."""

from __future__ import annotations

import pytest

from sastc.errors import ConfigError
from sastc.spec import ArchSpec, Conv, Dense, Pool, Readout, parse_arch


def test_parse_defaults_and_shapes() -> None:
    spec = parse_arch("conv(16, 5, stride=2) pool(2) dense(32, beta=0.8) readout", (2, 34, 34), 10)
    assert spec.layers == (Conv(16, 5, 2), Pool(2), Dense(32, beta=0.8), Readout(10))
    assert spec.shapes() == [(2, 34, 34), (16, 17, 17), (16, 8, 8), (32,), (10,)]
    assert spec.num_classes == 10


def test_readout_is_appended_when_missing() -> None:
    spec = parse_arch("dense(8)", (1, 4, 4), 3)
    assert spec.layers[-1] == Readout(3)


@pytest.mark.parametrize("text", [
    "conv(8, 3, threshold=0.5, bias=False) dense(4) readout(beta=1.0)",
    "conv(4, 3, padding=0) pool(3) readout",
])
def test_text_and_dict_round_trip(text: str) -> None:
    spec = parse_arch(text, (2, 16, 16), 5, steepness=3.0)
    assert parse_arch(spec.describe(), (2, 16, 16), 5, steepness=3.0) == spec
    assert ArchSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(("text", "message"), [
    ("conv(8, 3) blur(2) readout", "unknown layer 'blur'"),
    ("conv(8, 40, padding=0) readout", "kernel 40 does not fit input 16x16"),
    ("conv(8) readout", "expected conv(channels, kernel"),
    ("conv(0, 3) readout", "channels must be >= 1, got 0"),
    ("dense(8, beta=1.5) readout", "beta must be in [0, 1], got 1.5"),
    ("dense(8, threshold=-1) readout", "threshold must be a positive number, got -1"),
    ("readout dense(4)", "the readout must be the last layer"),
    ("conv(8, 3", "cannot parse"),
    ("pool(32) readout", "larger than its input"),
    ("conv(8, x) readout", "cannot read arguments"),
])
def test_invalid_specs_name_layer_and_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"layer|spec") as info:
        parse_arch(text, (2, 16, 16), 4)
    assert message in str(info.value)


def test_invalid_dict_reports_missing_field() -> None:
    with pytest.raises(ConfigError, match="missing or malformed field 'layers'"):
        ArchSpec.from_dict({"input_shape": [2, 8, 8]})
    with pytest.raises(ConfigError, match="unknown kind 'lstm'"):
        ArchSpec.from_dict({"input_shape": [2, 8, 8], "layers": [{"kind": "lstm"}]})
