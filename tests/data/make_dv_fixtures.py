"""Write the AEDAT 4.0 fixtures of tests/test_data_readers.py with iniVation's dv-processing.

These files come from DV's own writer, not from ours, so reading them checks the
decoder against an independent implementation. dv-processing is not a dependency of
sastc; to regenerate the files (they are committed)::

    pip install --target /tmp/dvp dv-processing==2.0.4
    PYTHONPATH=/tmp/dvp python tests/data/make_dv_fixtures.py

Each file holds an event stream (the events of ``fixture_columns``, written in three
packets), an IMU, a trigger and a frame stream, which the reader must skip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH, HEIGHT, COUNT = 40, 30, 300
T0 = 1_700_000_000_000_000  # DV timestamps are microseconds since the Unix epoch
COMPRESSIONS = ("NONE", "LZ4", "ZSTD")


def fixture_columns() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(t, x, y, on)`` of the fixture events, in time order."""
    i = np.arange(COUNT, dtype=np.int64)
    return T0 + 37 * i, (7 * i) % WIDTH, (3 * i) % HEIGHT, i % 3 == 0


def write(path: Path, compression: str) -> None:
    import dv_processing as dv

    config = dv.io.MonoCameraWriter.Config("fixture", getattr(dv.CompressionType, compression))
    config.addEventStream((WIDTH, HEIGHT))
    config.addFrameStream((WIDTH, HEIGHT))
    config.addImuStream()
    config.addTriggerStream()
    writer = dv.io.MonoCameraWriter(str(path), config)
    t, x, y, on = fixture_columns()
    for part in np.array_split(np.arange(COUNT), 3):
        store = dv.EventStore()
        for k in part:
            store.push_back(int(t[k]), int(x[k]), int(y[k]), bool(on[k]))
        writer.writeEvents(store)
        writer.writeTrigger(dv.Trigger(int(t[part[-1]]), dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE))
        writer.writeImu(dv.IMU(int(t[part[-1]]), 25.0, 0.0, 0.0, 1.0, 0.1, 0.2, 0.3, 0.0, 0.0, 0.0))
    image = (np.arange(WIDTH * HEIGHT) % 256).astype(np.uint8).reshape(HEIGHT, WIDTH)
    writer.writeFrame(dv.Frame(int(t[-1]), image))
    del writer  # closes the file and writes the data table


if __name__ == "__main__":
    for name in COMPRESSIONS:
        write(Path(__file__).with_name(f"dv_processing_{name.lower()}.aedat4"), name)
