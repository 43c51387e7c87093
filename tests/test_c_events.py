"""The C streaming input (``sastc_events.c``) bins raw events exactly like
``sastc.data.binning.bin_window``, and its decisions equal the integer simulator's on
those frames: on real N-MNIST and DVS128 recordings, back-to-back and rolling windows,
wrapping clocks, and every bad input giving its status code from ``sastc_status.def``.

The test-vector firmware (``targets/mcu/firmware.c``) runs here as a host program.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sastc.backends.c_header import write_build
from sastc.data.binning import bin_window
from sastc.data.events import make_events
from sastc.data.nmnist import read_nmnist_bin
from sastc.errors import CompileError
from sastc.ir.quantized import QNet
from sastc.sim.c_runtime import SANITIZE_CFLAGS, status_codes
from sastc.sim.c_stream import (
    EventStream,
    StreamResult,
    build_vectors_host,
    decode_streams,
    encode_streams,
    run_host,
    stream_events,
)
from sastc.sim.int_sim import IntegerSimulator
from tests.test_c_runtime import make_qnet
from tests.toolchains import require_tool

REPO_ROOT = Path(__file__).resolve().parents[1]
STATUS = {name: code for code, (name, _) in status_codes().items()}
NMNIST_T, NMNIST_CLIP, NMNIST_WINDOW = 12, 3, 400_000  # 400000 / 12: bins of 33333.3 us
ARCH = "conv(8, 5, stride=2) pool(2) dense(16) readout"


def stream_qnet(shape: tuple[int, int, int], time_bins: int, clip: int,
                meta: dict | None = None) -> QNet:
    qnet = make_qnet(ARCH, "int8-fixed", 1, input_shape=shape, time_bins=time_bins,
                     input_clip=clip)
    qnet.metadata.update(meta or {})
    return qnet


@pytest.fixture(scope="module")
def nmnist_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[QNet, Path]:
    """A random N-MNIST-sized model (no window recorded) and its host firmware."""
    require_tool("gcc", "the C runtime tests need a host C compiler")
    qnet = stream_qnet((2, 34, 34), NMNIST_T, NMNIST_CLIP)
    build = tmp_path_factory.mktemp("events-nmnist")
    write_build(qnet, build)
    return qnet, build_vectors_host(build)


run_streams = stream_events


def c_frames(result: StreamResult, shape: tuple[int, ...]) -> np.ndarray:
    """The closed bins' frames of a stream, in bin order."""
    assert sorted(result.frames) == list(range(len(result.frames)))
    return np.stack([result.frames[b].reshape(shape) for b in range(len(result.frames))])


def nmnist_recordings(nmnist_dir: Path, count: int) -> list[np.ndarray]:
    files = sorted((nmnist_dir / "Test").glob("*/*.bin"))[:: 97][:count]
    return [read_nmnist_bin(path) for path in files]


def reference(qnet: QNet, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Simulator logits and classes of frames ``[windows, T, C, H, W]``."""
    logits = IntegerSimulator(qnet).run(frames).logits
    return logits, np.argmax(logits, axis=1)


def test_nmnist_recordings_bin_and_decide_like_the_simulator(
        nmnist_model: tuple[QNet, Path], nmnist_dir: Path) -> None:
    """Each whole recording is one window of 400 ms from t = 0."""
    qnet, executable = nmnist_model
    recordings = nmnist_recordings(nmnist_dir, 4)
    assert all(int(e["t"].max()) < NMNIST_WINDOW for e in recordings)
    streams = [EventStream(events, 0, NMNIST_WINDOW) for events in recordings]
    results = run_streams(executable, streams, window_us=NMNIST_WINDOW, record_frames=True)
    expected = np.stack([bin_window(e, 0, NMNIST_WINDOW, NMNIST_T, (2, 34, 34), 1, NMNIST_CLIP)
                         for e in recordings])
    assert expected.max() == NMNIST_CLIP  # clipping is exercised
    logits, labels = reference(qnet, expected)
    for i, result in enumerate(results):
        assert result.status == 0 and result.taken == len(recordings[i])
        assert np.array_equal(c_frames(result, qnet.input_shape), expected[i])
        assert [d["label"] for d in result.decisions] == [labels[i]]
        assert np.array_equal(result.logits[0], logits[i])
        assert result.decisions[0]["end_us"] == NMNIST_WINDOW
        assert (result.decisions[0]["first_bin"], result.decisions[0]["last_bin"]) == (0, NMNIST_T - 1)


def dvs128_file() -> Path:
    """One long DVS128 recording (``$SASTC_DVS128_DIR`` or ``<repo>/../*/data/DVS128_objects``)."""
    roots = [Path(os.environ["SASTC_DVS128_DIR"])] if os.environ.get("SASTC_DVS128_DIR") else \
        sorted(REPO_ROOT.parent.glob("*/data/DVS128_objects"))
    files = [f for root in roots for f in sorted(root.glob("*/*.aedat"))]
    if not files:
        pytest.skip("DVS128 recordings not found: set SASTC_DVS128_DIR")
    return files[0]


def test_dvs128_recording_cut_into_300ms_windows(tmp_path: Path) -> None:
    """The build records the window, sensor and downsampling; the stream starts at the first
    event and cuts ten back-to-back windows of 300 ms, equal to bin_window on each."""
    require_tool("gcc", "the C runtime tests need a host C compiler")
    from sastc.data.formats import read_event_file

    window, bins, count = 300_000, 10, 10
    decoded = read_event_file(dvs128_file())
    t0 = int(decoded.events["t"][0])
    events = decoded.events[decoded.events["t"] < t0 + count * window]
    meta = {"window_us": window, "sensor_size": list(decoded.sensor_size), "downsample": 4}
    qnet = stream_qnet((2, 32, 32), bins, 3, meta)
    write_build(qnet, tmp_path)
    header = (tmp_path / "model.h").read_text()
    assert "#define SASTC_MODEL_WINDOW_US 300000u" in header
    assert "#define SASTC_MODEL_SENSOR_W 128u" in header and "DOWNSAMPLE 4u" in header
    result, = run_streams(build_vectors_host(tmp_path), [EventStream(events, 0, t0 + count * window)],
                          record_frames=True, first_event=True)
    expected = np.stack([bin_window(events, t0 + k * window, window, bins, (2, 128, 128), 4, 3)
                         for k in range(count)])
    assert result.status == 0 and result.taken == len(events)
    assert np.array_equal(c_frames(result, qnet.input_shape), expected.reshape(-1, 2, 32, 32))
    logits, labels = reference(qnet, expected)
    assert [d["label"] for d in result.decisions] == labels.tolist()
    assert np.array_equal(result.logits, logits)
    assert [d["end_us"] for d in result.decisions] == [t0 + (k + 1) * window for k in range(count)]


def test_rolling_decision_every_two_bins(nmnist_model: tuple[QNet, Path], nmnist_dir: Path
                                         ) -> None:
    """hop_bins = 2: a decision every two bins over the last T bins (a ring of T frames)."""
    qnet, executable = nmnist_model
    events = nmnist_recordings(nmnist_dir, 1)[0]
    window = 100_000  # 3 windows, 36 bins
    result, = run_streams(executable, [EventStream(events, 0, 3 * window)], window_us=window,
                          hop_bins=2)
    bins = np.concatenate([bin_window(events, k * window, window, NMNIST_T, (2, 34, 34), 1,
                                      NMNIST_CLIP) for k in range(3)])
    last = [d["last_bin"] for d in result.decisions]
    assert last == list(range(NMNIST_T - 1, 3 * NMNIST_T, 2))
    logits, _ = reference(qnet, np.stack([bins[j + 1 - NMNIST_T: j + 1] for j in last]))
    assert np.array_equal(result.logits, logits)


def test_first_event_start_gaps_and_a_wrapping_clock(nmnist_model: tuple[QNet, Path],
                                                     nmnist_dir: Path) -> None:
    """Starting at the first event equals an explicit t0; a silent gap gives windows of empty
    frames; a 32-bit clock that wraps inside the stream changes nothing."""
    qnet, executable = nmnist_model
    events = nmnist_recordings(nmnist_dir, 1)[0]
    t0 = int(events["t"][0])
    late = events.copy()
    late["t"] += 2 * NMNIST_WINDOW  # two silent windows first
    wrapped = late.copy()
    wrapped["t"] += 2**32 - NMNIST_WINDOW - 5000  # the clock wraps in the second window
    explicit, gap, wrap = (run_streams(executable, [stream], window_us=NMNIST_WINDOW)[0]
                           for stream in (EventStream(events, t0, t0 + NMNIST_WINDOW),
                                          EventStream(late, 0, 3 * NMNIST_WINDOW),
                                          EventStream(wrapped, int(wrapped["t"][0]) - late["t"][0],
                                                      int(wrapped["t"][0]) - late["t"][0]
                                                      + 3 * NMNIST_WINDOW)))
    first, = run_streams(executable, [EventStream(events, 0, t0 + NMNIST_WINDOW)],
                         window_us=NMNIST_WINDOW, first_event=True)
    assert np.array_equal(first.logits, explicit.logits)
    empty = np.zeros((1, NMNIST_T, *qnet.input_shape), dtype=np.uint8)
    assert np.array_equal(gap.logits[:2], np.repeat(reference(qnet, empty)[0], 2, axis=0))
    framed = bin_window(late, 2 * NMNIST_WINDOW, NMNIST_WINDOW, NMNIST_T, (2, 34, 34), 1,
                        NMNIST_CLIP)
    assert np.array_equal(gap.logits[2], reference(qnet, framed[None])[0][0])
    assert np.array_equal(wrap.logits, gap.logits)


def test_bad_events_give_their_status_codes(nmnist_model: tuple[QNet, Path]) -> None:
    """Out of order, outside the sensor, a wrong polarity, a stream that stops mid-window:
    each has its code; the rejected event is not taken and the next stream is unharmed."""
    _, executable = nmnist_model
    good = make_events([1, 2, 3], [1, 2, 3], [10, 20, 30], [0, 1, 1])
    cases = {"SASTC_ERR_EVENT_ORDER": make_events([1, 2, 3], [1, 2, 3], [10, 30, 20], [0, 1, 1]),
             "SASTC_ERR_EVENT_OUTSIDE_SENSOR": make_events([1, 34, 3], [1, 2, 3], [10, 20, 30],
                                                           [0, 1, 1]),
             "SASTC_ERR_WINDOW_INCOMPLETE": good}
    p2 = good.copy()
    streams = [EventStream(cases["SASTC_ERR_EVENT_ORDER"], 0, 1000),
               EventStream(cases["SASTC_ERR_EVENT_OUTSIDE_SENSOR"], 0, 1000),
               EventStream(good, 0, 1000 + 500),  # stops half a window into the second
               EventStream(good, 0, 1000)]
    results = run_streams(executable, streams, window_us=1000)
    p2_bytes = encode_streams([EventStream(p2, 0, 1000)], window_us=1000)
    p2_bytes = p2_bytes[:-12 + 8] + bytes([2]) + p2_bytes[-12 + 9:]  # last event: polarity 2
    reader, header = run_host(executable, p2_bytes)
    _, (polarity,) = decode_streams(reader, 1, header)
    assert [r.status for r in results] == [STATUS["SASTC_ERR_EVENT_ORDER"],
                                          STATUS["SASTC_ERR_EVENT_OUTSIDE_SENSOR"],
                                          STATUS["SASTC_ERR_WINDOW_INCOMPLETE"], 0]
    assert [r.taken for r in results] == [2, 1, 3, 3]
    assert [len(r.decisions) for r in results] == [0, 0, 1, 1]
    assert (polarity.status, polarity.taken) == (STATUS["SASTC_ERR_EVENT_OUTSIDE_SENSOR"], 2)


@pytest.mark.parametrize(("window", "hop"), [(0, 0), (1000, NMNIST_T + 1), (2**31, 0)])
def test_bad_stream_settings_are_refused(nmnist_model: tuple[QNet, Path], window: int,
                                         hop: int) -> None:
    """No window (the build records none), a hop longer than the window, a window past 2^31 us."""
    _, executable = nmnist_model
    payload = encode_streams([], window_us=window, hop_bins=hop)
    if hop == 0:  # 0 means T in the protocol: ask for it explicitly
        payload = payload[:12] + np.array([NMNIST_T], "<u4").tobytes() + payload[16:]
    reader, header = run_host(executable, payload)
    assert decode_streams(reader, 0, header)[0] == STATUS["SASTC_ERR_STREAM_CONFIG"]


def test_streaming_under_sanitizers(nmnist_model: tuple[QNet, Path], nmnist_dir: Path,
                                    tmp_path: Path) -> None:
    """AddressSanitizer and UndefinedBehaviorSanitizer: real, rolling and bad streams."""
    qnet, plain = nmnist_model
    write_build(qnet, tmp_path)
    checked = build_vectors_host(tmp_path, opt="-O1", extra_flags=SANITIZE_CFLAGS)
    events = nmnist_recordings(nmnist_dir, 1)[0]
    streams = [EventStream(events, 0, 250_000), EventStream(events[::-1], 0, 1000)]
    for hop in (NMNIST_T, 3):
        got = run_streams(checked, streams, window_us=50_000, hop_bins=hop, record_frames=True)
        want = run_streams(plain, streams, window_us=50_000, hop_bins=hop, record_frames=True)
        assert [(r.status, r.taken, r.decisions) for r in got] == \
               [(r.status, r.taken, r.decisions) for r in want]


def test_header_binning_constants(tmp_path: Path) -> None:
    """Builds without a window say 0 (the caller passes one); an inconsistent sensor size is
    refused before anything is written."""
    write_build(stream_qnet((2, 34, 34), 8, 1), tmp_path)
    header = (tmp_path / "model.h").read_text()
    assert "#define SASTC_MODEL_WINDOW_US 0u" in header
    assert "#define SASTC_MODEL_SENSOR_W 34u" in header
    bad = stream_qnet((2, 32, 32), 8, 1, {"sensor_size": [100, 128], "downsample": 4})
    with pytest.raises(CompileError, match="sensor 100x128"):
        write_build(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_events_firmware_example(nmnist_model: tuple[QNet, Path], nmnist_dir: Path,
                                 tmp_path: Path) -> None:
    """examples/firmware/events.c: text events in, one decision line per window out."""
    qnet, _ = nmnist_model
    make = require_tool("make", "the example builds with make")
    write_build(qnet, tmp_path)
    subprocess.run([make, "-s", "-C", str(REPO_ROOT / "examples" / "firmware"),
                    f"BUILD={tmp_path}", "events", f"WINDOW_US={NMNIST_WINDOW}"], check=True,
                   capture_output=True, text=True)
    events = nmnist_recordings(nmnist_dir, 1)[0]
    t0 = int(events["t"][0])
    lines = [f"{t} {x} {y} {int(p)}" for x, y, t, p in events] + [str(t0 + NMNIST_WINDOW)]
    output = subprocess.run([str(tmp_path / "events")], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, check=True).stdout
    frames = bin_window(events, t0, NMNIST_WINDOW, NMNIST_T, (2, 34, 34), 1, NMNIST_CLIP)
    label = int(reference(qnet, frames[None])[1][0])
    assert output == f"window 0-{NMNIST_T - 1} ends {t0 + NMNIST_WINDOW} us: {label} {label}\n"
