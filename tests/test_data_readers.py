"""Event-file decoders (``sastc.data.formats``): round trips, corrupt files, real recordings.

Independent checks:

- AEDAT 4.0: ``tests/data/dv_processing_*.aedat4`` were written by iniVation's
  dv-processing 2.0.4 (``tests/data/make_dv_fixtures.py``; not a dependency) with
  frame, IMU and trigger streams besides the events; the reader must return exactly the
  events written. The files of ``tests/event_files.write_aedat4`` were read back
  identically by dv-processing 2.0.4 and by the ``aedat`` 2.3.0 package (installed
  with ``pip install --target``, once, outside the project) for no, LZ4 and Zstd
  compression.
- AEDAT 2.0: the real DVS128 recordings are decoded a second way here, from tonic's
  raw (address, timestamp) reader and ``struct``, with jAER's DVS128 bit layout.
- AEDAT 3.1: hand-made files are also read by tonic's raw AEDAT 3 packet reader.
- N-MNIST ``.bin``: compared with ``tonic.io.read_mnist_file`` on real files.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from sastc.data.events import make_events, sort_by_time
from sastc.data.formats import READERS, SUPPORTED_EXTENSIONS, EventFile, read_event_file
from sastc.errors import DataError
from tests.data.make_dv_fixtures import HEIGHT, WIDTH, fixture_columns
from tests.event_files import (
    aedat2_records,
    write_aedat2,
    write_aedat3,
    write_aedat4,
    write_csv,
    write_nmnist_bin,
    write_npy,
    write_npz,
)

FIXTURES = Path(__file__).parent / "data"


def random_events(n: int = 400, size: int = 128, t_max: int = 5_000_000, seed: int = 0):
    """Unsorted events with repeated timestamps (so the sort must be stable)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, t_max, n)
    t[1::7] = t[::7][:len(t[1::7])]
    return make_events(rng.integers(0, size, n), rng.integers(0, size, n), t,
                       rng.integers(0, 2, n).astype(bool))


WRITERS = {
    ".aedat": lambda path, ev: write_aedat2(path, ev),
    ".aedat4": lambda path, ev: write_aedat4(path, ev, 128, 128, "lz4", packet_events=64,
                                             extra_stream=True),
    ".bin": write_nmnist_bin,
    ".csv": write_csv,
    ".npy": write_npy,
    ".npz": lambda path, ev: write_npz(path, ev, (128, 128)),
}
SENSOR = {".aedat": (128, 128), ".aedat4": (128, 128), ".npz": (128, 128)}


def test_registry_covers_every_extension():
    assert set(READERS) == set(SUPPORTED_EXTENSIONS) == set(WRITERS)


@pytest.mark.parametrize("extension", sorted(WRITERS))
def test_round_trip_is_exact_and_sorted(tmp_path, extension):
    events = random_events(t_max=9_000_000)  # > 2**23 us: N-MNIST overflow markers too
    path = WRITERS[extension](tmp_path / f"rec{extension}", events)
    decoded = read_event_file(path)
    assert isinstance(decoded, EventFile)
    assert decoded.events.dtype == make_events([], [], [], []).dtype
    np.testing.assert_array_equal(decoded.events, sort_by_time(events))
    assert decoded.sensor_size == SENSOR.get(extension)
    assert decoded.source


def test_extension_is_case_insensitive(tmp_path):
    events = random_events(50)
    path = write_aedat2(tmp_path / "REC.AEDAT", events)
    np.testing.assert_array_equal(read_event_file(path).events, sort_by_time(events))


def test_unknown_extension_lists_supported(tmp_path):
    with pytest.raises(DataError, match=r"clip\.mp4.*'\.mp4'.*\.aedat, \.aedat4, \.bin"):
        read_event_file(tmp_path / "clip.mp4")


@pytest.mark.parametrize("extension", sorted(WRITERS))
def test_empty_file_is_an_error(tmp_path, extension):
    path = tmp_path / f"empty{extension}"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=f"{path.name}.*empty"):
        read_event_file(path)


@pytest.mark.parametrize("extension", sorted(WRITERS))
def test_missing_file_is_a_data_error(tmp_path, extension):
    with pytest.raises(DataError, match=f"cannot read .*gone{extension}: No such file"):
        read_event_file(tmp_path / f"gone{extension}")


# -- AEDAT 2.0 -------------------------------------------------------------------------

@pytest.mark.parametrize(("chip", "size"), [("DAVIS240C", (240, 180)), ("Davis346B", (346, 260))])
def test_aedat2_davis_round_trip(tmp_path, chip, size):
    events = random_events(300, size=180)
    decoded = read_event_file(write_aedat2(tmp_path / "d.aedat", events, chip))
    np.testing.assert_array_equal(decoded.events, sort_by_time(events))
    assert decoded.sensor_size == size


def test_aedat2_skips_special_aps_and_imu_records(tmp_path):
    events = sort_by_time(random_events(20))
    dvs128 = aedat2_records(events)
    sync = np.array([(0x8000, 5), (0x80000000, 6)], dtype=dvs128.dtype)
    path = write_aedat2(tmp_path / "s.aedat", events, records=np.concatenate([sync, dvs128]))
    np.testing.assert_array_equal(read_event_file(path).events, events)
    davis = aedat2_records(events, "DAVIS240C")
    other = np.array([(0x80000000 | 5 << 12, 7), (0x80000C00, 8), (0x400, 9)], dtype=davis.dtype)
    path = write_aedat2(tmp_path / "a.aedat", events, "DAVIS240C",
                        records=np.concatenate([other, davis]))
    np.testing.assert_array_equal(read_event_file(path).events, events)


def test_aedat2_timestamp_wraparound_adds_2_pow_32(tmp_path):
    t = np.array([2**32 - 300, 2**32 - 100, 2**32 + 50, 2**32 + 400])
    events = make_events([1, 2, 3, 4], [5, 6, 7, 8], t, [1, 0, 1, 0])
    decoded = read_event_file(write_aedat2(tmp_path / "w.aedat", events)).events
    assert decoded["t"].tolist() == t.tolist()


def test_aedat2_x_y_polarity_follow_jaer_layout(tmp_path):
    """Raw address 0x0203: y_raw 2, x_raw 1, bit 0 set (OFF) -> x 126, y 125."""
    records = np.array([(0x0203, 10), (0x0000, 11)], dtype=aedat2_records(random_events(1)).dtype)
    path = write_aedat2(tmp_path / "b.aedat", random_events(1), records=records)
    decoded = read_event_file(path).events
    assert [(int(e["x"]), int(e["y"]), bool(e["p"])) for e in decoded] == [(126, 125, False),
                                                                            (127, 127, True)]


@pytest.mark.parametrize(("mutate", "pattern"), [
    (lambda data: data[:-3], r"t\.aedat is truncated: the record at byte \d+ has only 5 of 8"),
    (lambda data: data.replace(b"AER-DAT2.0", b"AER-DAT3.0"),
     r"t\.aedat is AEDAT 3\.0; supported: AEDAT 2\.0 and 3\.1 .*AEDAT 4\.0"),
    (lambda data: data.replace(b"AER-DAT2.0", b"AER-DAT1.0"), r"t\.aedat is AEDAT 1\.0; supported"),
    (lambda data: b"hello" + data, r"t\.aedat is not an AEDAT file"),
    (lambda data: data.replace(b"retina.DVS128", b"retina.DVS320"),
     r"t\.aedat was recorded with the chip .*DVS320.*supported chips: DVS128, DAVIS240A"),
    (lambda data: data.replace(b"# AEChip", b"# Chip"), r"t\.aedat has no '# AEChip:' header"),
    (lambda data: data[:data.index(b"Header\r\n") + 8], r"t\.aedat holds no events"),
    (lambda data: data.replace(b"Header\r\n", b"Header\r"), r"header line at byte \d+ never ends"),
])
def test_aedat2_corrupt_files(tmp_path, mutate, pattern):
    path = write_aedat2(tmp_path / "t.aedat", random_events(40))
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(DataError, match=pattern):
        read_event_file(path)


def test_aedat2_foreign_or_out_of_range_addresses(tmp_path):
    records = aedat2_records(random_events(3))
    records["address"][1] = 0x00010000
    path = write_aedat2(tmp_path / "f.aedat", random_events(3), records=records)
    start = len(path.read_bytes()) - 24
    with pytest.raises(DataError, match=f"record at byte {start + 8} has address 0x00010000"):
        read_event_file(path)
    records = aedat2_records(random_events(3), "DAVIS240C")
    records["address"][2] = 239 << 22  # y_raw 239 >= 180
    path = write_aedat2(tmp_path / "g.aedat", random_events(3), "DAVIS240C", records=records)
    start = len(path.read_bytes()) - 24
    with pytest.raises(DataError, match=f"byte {start + 16} has raw address.*expected x < 240, y < 180"):
        read_event_file(path)


# -- AEDAT 3.1 -------------------------------------------------------------------------

def test_aedat31_round_trip_skips_special_and_invalid_events(tmp_path):
    events = random_events(500)
    decoded = read_event_file(write_aedat3(tmp_path / "c.aedat", events, skipped=True))
    np.testing.assert_array_equal(decoded.events, sort_by_time(events))
    assert decoded.sensor_size == (128, 128) and decoded.source == "AEDAT 3.1 (DVS128)"


def test_aedat31_timestamp_overflow_and_sensor_from_source(tmp_path):
    events = make_events([1, 2, 3], [4, 5, 6], [2**31 - 5, 2**31 + 10, 2**33 + 1], [1, 0, 1])
    decoded = read_event_file(write_aedat3(tmp_path / "o.aedat", events, source="DAVIS346B"))
    assert decoded.events["t"].tolist() == events["t"].tolist()
    assert decoded.sensor_size == (346, 260)
    unknown = read_event_file(write_aedat3(tmp_path / "u.aedat", events, source="Prophesee"))
    assert unknown.sensor_size is None


def test_aedat31_matches_tonic_raw_records(tmp_path):
    from tonic.io import get_aer_events_from_file, read_aedat_header_from_file

    path = write_aedat3(tmp_path / "t.aedat", random_events(300))
    version, start, _ = read_aedat_header_from_file(str(path))
    raw = get_aer_events_from_file(str(path), version, start)
    word, t = raw["address"].astype(np.int64), raw["timeStamp"].astype(np.int64)
    expected = make_events(word >> 17 & 0x7FFF, word >> 2 & 0x7FFF, t, word >> 1 & 1)
    np.testing.assert_array_equal(read_event_file(path).events, sort_by_time(expected))


def test_aedat31_corrupt_packets(tmp_path):
    path = write_aedat3(tmp_path / "k.aedat", random_events(150), packet_events=100)
    data = path.read_bytes()
    second = data.index(b"#!END-HEADER\r\n") + 14 + 28 + 800
    path.write_bytes(data[:-4])
    with pytest.raises(DataError, match=f"k.aedat is truncated: the packet at byte {second} declares"):
        read_event_file(path)
    path.write_bytes(data[:second + 10])
    with pytest.raises(DataError, match=f"10 bytes at byte {second}; expected a 28-byte packet"):
        read_event_file(path)
    path.write_bytes(data[:second + 4] + struct.pack("<i", 4) + data[second + 8:])
    with pytest.raises(DataError, match=f"polarity packet at byte {second} has 4-byte events"):
        read_event_file(path)


# -- AEDAT 4.0 -------------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_aedat4_files_written_by_dv_processing(compression):
    decoded = read_event_file(FIXTURES / f"dv_processing_{compression}.aedat4")
    t, x, y, on = fixture_columns()
    assert decoded.sensor_size == (WIDTH, HEIGHT)
    assert decoded.events["t"].tolist() == t.tolist()
    assert decoded.events["x"].tolist() == x.tolist()
    assert decoded.events["y"].tolist() == y.tolist()
    assert decoded.events["p"].tolist() == on.tolist()


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_aedat4_round_trip_stops_at_the_data_table(tmp_path, compression):
    events = random_events(500, size=200)
    path = write_aedat4(tmp_path / "r.aedat4", events, 346, 260, compression, packet_events=100,
                        extra_stream=True, data_table=True)
    decoded = read_event_file(path)
    np.testing.assert_array_equal(decoded.events, sort_by_time(events))
    assert decoded.sensor_size == (346, 260)


def _packet_offsets(data: bytes) -> list[int]:
    """Byte offsets of the packets of a file written by ``write_aedat4``."""
    position = 18 + struct.unpack_from("<I", data, 14)[0]
    offsets = []
    while position + 8 <= len(data):
        offsets.append(position)
        position += 8 + struct.unpack_from("<i", data, position + 4)[0]
    return offsets


def test_aedat4_truncated_and_corrupt_packets(tmp_path):
    path = write_aedat4(tmp_path / "c.aedat4", random_events(300), 128, 128, "lz4",
                        packet_events=100)
    data = path.read_bytes()
    last = _packet_offsets(data)[-1]
    path.write_bytes(data[:-10])
    with pytest.raises(DataError, match=f"c.aedat4 is truncated: the packet at byte {last} declares"):
        read_event_file(path)
    path.write_bytes(data[:last + 5])
    with pytest.raises(DataError, match=f"5 bytes at byte {last}; expected an 8-byte packet header"):
        read_event_file(path)
    middle = _packet_offsets(data)[1]
    broken = bytearray(data)
    broken[middle + 8:middle + 24] = b"\xff" * 16
    path.write_bytes(bytes(broken))
    with pytest.raises(DataError, match=f"packet at byte {middle} does not decompress"):
        read_event_file(path)


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_aedat4_cut_frame_with_consistent_sizes(tmp_path, compression):
    """A packet whose compressed frame lost its last 5 bytes (and whose size says so)."""
    path = write_aedat4(tmp_path / "k.aedat4", random_events(300), 128, 128, compression,
                        packet_events=100)
    data = path.read_bytes()
    first = _packet_offsets(data)[0]
    size = struct.unpack_from("<i", data, first + 4)[0]
    path.write_bytes(data[:first + 4] + struct.pack("<i", size - 5)
                     + data[first + 8:first + 8 + size - 5] + data[first + 8 + size:])
    with pytest.raises(DataError, match=f"packet at byte {first} does not decompress"):
        read_event_file(path)


def test_aedat4_corrupt_flatbuffer_names_the_packet(tmp_path):
    path = write_aedat4(tmp_path / "v.aedat4", random_events(30), 128, 128, "none")
    data = bytearray(path.read_bytes())
    first = _packet_offsets(bytes(data))[0]
    data[first + 8 + 28:first + 8 + 32] = struct.pack("<I", 10**6)  # the vector's count
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"corrupt event packet at byte {first}.*runs past"):
        read_event_file(path)


@pytest.mark.parametrize(("mutate", "pattern"), [
    (lambda data: data[:16], r"h\.aedat4 is truncated at byte 16: expected the IOHeader size"),
    (lambda data: data[:60], r"IOHeader at byte 18 declares \d+ bytes, the file holds 42"),
    (lambda data: data.replace(b"AER-DAT4.0", b"AER-DAT2.0"), r"h\.aedat4 is AEDAT 2\.0.*\.aedat"),
    (lambda data: b"RIFF" + data, r"h\.aedat4 is not an AEDAT 4\.0 file"),
    (lambda data: data.replace(b"EVTS</attr>", b"FRME</attr>"), r"has no event stream.*FRME"),
    (lambda data: data.replace(b"<dv ", b"<dv< "), r"infoNode is not readable XML"),
    (lambda data: data.replace(b">128</attr>", b">100</attr>"),
     r"event \d+ \(packet at byte \d+\): event at .* outside the 100x100 sensor"),
])
def test_aedat4_corrupt_headers(tmp_path, mutate, pattern):
    path = write_aedat4(tmp_path / "h.aedat4", random_events(40), 128, 128, "zstd")
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(DataError, match=pattern):
        read_event_file(path)


# -- NumPy -----------------------------------------------------------------------------

def test_numpy_polarity_minus_one_and_plain_columns(tmp_path):
    events = random_events(100)
    signed = np.zeros(100, dtype=[("t", "<u4"), ("x", "u1"), ("y", "<i8"), ("p", "i1"),
                                  ("extra", "f4")])
    for name in "txy":
        signed[name] = events[name]
    signed["p"] = np.where(events["p"], 1, -1)
    np.save(tmp_path / "s.npy", signed)
    np.testing.assert_array_equal(read_event_file(tmp_path / "s.npy").events, sort_by_time(events))
    plain = np.stack([events[n].astype(np.int64) for n in "xyt"] + [signed["p"]], axis=1)
    np.savez(tmp_path / "plain.npz", only=plain)
    decoded = read_event_file(tmp_path / "plain.npz")
    np.testing.assert_array_equal(decoded.events, sort_by_time(events))
    assert decoded.sensor_size is None


@pytest.mark.parametrize(("array", "pattern"), [
    (np.zeros((5, 3), np.int64), r"shape \(5, 3\).*expected a structured array"),
    (np.array([[1, 2, 3.5, 1]]), r"event 0: t = 3\.5 is not an integer"),
    (np.array([[1, 2, 3, 1], [-4, 2, 3, 1]]), r"event 1: x = -4 is negative"),
    (np.array([[1, 2, 3, 1], [4, 2, 3, 2]]), r"event 1: polarity 2 .*expected polarities \{0, 1\}"),
    (np.array([[1, 2, 3, 1], [4, 2, 3, -1], [4, 2, 3, 0]]), r"event 2: polarity 0"),
    (np.array(["a", "b"]), r"shape \(2,\) and type <U1"),
])
def test_npy_bad_arrays(tmp_path, array, pattern):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=rf"bad\.npy.*{pattern}"):
        read_event_file(tmp_path / "bad.npy")


def test_npy_truncated_and_pickled(tmp_path):
    path = write_npy(tmp_path / "t.npy", random_events(100))
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    with pytest.raises(DataError, match=f"t.npy is truncated at byte {len(data) - 7}: its header"):
        read_event_file(path)
    np.save(tmp_path / "o.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"o\.npy is not readable"):
        read_event_file(tmp_path / "o.npy")


def test_npz_errors(tmp_path):
    events = random_events(20)
    path = write_npz(tmp_path / "z.npz", events, (64, 64))
    with pytest.raises(DataError, match=r"z\.npz, event \d+: .* outside the 64x64 sensor"):
        read_event_file(path)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match=r"z\.npz \(\d+ bytes\) is truncated or corrupt"):
        read_event_file(path)
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 4), int), b=np.zeros((2, 4), int))
    with pytest.raises(DataError, match=r"two\.npz holds arrays \['a', 'b'\]; expected one named"):
        read_event_file(tmp_path / "two.npz")
    write_npz(tmp_path / "s.npz", events, (128, 0))
    with pytest.raises(DataError, match=r"sensor_size is \[128, 0\]; expected two positive"):
        read_event_file(tmp_path / "s.npz")


# -- N-MNIST .bin ----------------------------------------------------------------------

def test_bin_truncated_names_the_record(tmp_path):
    path = write_nmnist_bin(tmp_path / "n.bin", random_events(10))
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(DataError, match=r"n\.bin has 48 bytes.*record at byte 45 has only 3"):
        read_event_file(path)


def test_bin_matches_tonic_on_real_nmnist(nmnist_dir):
    from tonic.io import events_struct, read_mnist_file

    files = sorted(nmnist_dir.glob("Train/*/*.bin"))[::100]
    assert len(files) >= 10
    for path in files:
        decoded = read_event_file(path)
        expected = sort_by_time(read_mnist_file(str(path), dtype=events_struct))
        assert decoded.sensor_size is None
        for name in "xytp":
            assert decoded.events[name].tolist() == expected[name].tolist(), (path, name)


# -- CSV -------------------------------------------------------------------------------

def test_csv_header_aliases_any_order_and_signed_polarity(tmp_path):
    events = random_events(60)
    path = write_csv(tmp_path / "a.csv", events, names=("Polarity", "ts", "y", "x"))
    np.testing.assert_array_equal(read_event_file(path).events, sort_by_time(events))
    lines = [f"{e['x']}, {e['y']},{e['t']} ,{1 if e['p'] else -1}" for e in events]
    (tmp_path / "b.csv").write_text("X,Y,timestamp,pol\r\n" + "\r\n".join(lines) + "\r\n\r\n")
    np.testing.assert_array_equal(read_event_file(tmp_path / "b.csv").events, sort_by_time(events))
    path = write_csv(tmp_path / "c.csv", events, header=False)
    np.testing.assert_array_equal(read_event_file(path).events, sort_by_time(events))


@pytest.mark.parametrize(("text", "pattern"), [
    ("x,y,t,p\n1,2,3,1\n1,2,x,1\n", r"line 3: '1,2,x,1'; expected 4 comma-separated integers"),
    ("1,2,3,1\n1,2,3\n", r"line 2: '1,2,3'"),
    ("1,2,3,1\n1,2,3.5,1\n", r"line 2: '1,2,3\.5,1'"),
    ("x,y,time,p\n1,2,3,1\n", r"line 1: header 'x,y,time,p'; expected the four columns"),
    ("x,y,t,t\n1,2,3,1\n", r"line 1: header 'x,y,t,t'"),
    ("x,y,t,p\n1,2,3,1\n\n4,-5,6,0\n", r"line 4: y = -5 is negative"),
    ("x,y,t,p\n1,2,3,1\n4,5,6,3\n", r"line 3: polarity 3"),
    ("x,y,t,p\n\n", r"holds no events"),
])
def test_csv_errors_name_the_line(tmp_path, text, pattern):
    (tmp_path / "e.csv").write_text(text)
    with pytest.raises(DataError, match=rf"e\.csv.*{pattern}"):
        read_event_file(tmp_path / "e.csv")


def test_csv_not_utf8_names_the_byte(tmp_path):
    (tmp_path / "u.csv").write_bytes(b"x,y,t,p\n1,2,\xff,1\n")
    with pytest.raises(DataError, match=r"u\.csv: byte 12 is not UTF-8"):
        read_event_file(tmp_path / "u.csv")


# -- real DVS128 recordings (jAER AEDAT 2.0) ---------------------------------------------

DVS128_FILES = {  # file: (events, first t, last t, ON events), measured with read_event_file
    "Caixa/Caixa.aedat": (374039, 525879511, 558653691, 204769),
    "Caneca/Caneca.aedat": (518133, 835302848, 868811233, 285287),
    "Cubo/Cubo.aedat": (494435, 1353410779, 1387903299, 275447),
    "Estilete/Estilete.aedat": (413436, 1177010601, 1210566875, 228912),
    "Estilete/Estilete_1.aedat": (408860, 1116862269, 1151835924, 227581),
    "Lapiseira/Lapiseira.aedat": (249545, 597323253, 633767504, 142164),
    "Tesoura/Tesoura.aedat": (263941, 446340208, 479347989, 150361),
}


@pytest.mark.parametrize("name", sorted(DVS128_FILES))
def test_real_dvs128_recordings(dvs128_objects_dir, name):
    path = dvs128_objects_dir / name
    decoded = read_event_file(path)
    events = decoded.events
    count, first, last, on = DVS128_FILES[name]
    assert (len(events), int(events["t"][0]), int(events["t"][-1]), int(events["p"].sum())) == (
        count, first, last, on)
    assert decoded.sensor_size == (128, 128) and decoded.source == "AEDAT 2.0 (DVS128)"
    assert 249_000 <= count <= 520_000 and 32.7e6 <= last - first <= 36.5e6
    assert bool(np.all(np.diff(events["t"]) >= 0))
    for axis in "xy":
        assert (int(events[axis].min()), int(events[axis].max())) == (0, 127)
    _check_against_raw_records(path, events)


def _check_against_raw_records(path: Path, events: np.ndarray) -> None:
    """Decode again from tonic's raw records and from ``struct``, with jAER's layout."""
    from tonic.io import get_aer_events_from_file, read_aedat_header_from_file

    version, start, _ = read_aedat_header_from_file(str(path))
    raw = get_aer_events_from_file(str(path), version, start)
    address, t = raw["address"].astype(np.int64), raw["timeStamp"].astype(np.int64)
    assert version == 2.0 and not (address & 0xFFFF8000).any()  # no special events here
    assert events["t"].tolist() == t.tolist()  # already in time order in the file
    assert events["x"].tolist() == (127 - ((address >> 1) & 0x7F)).tolist()
    assert events["y"].tolist() == (127 - ((address >> 8) & 0x7F)).tolist()
    assert events["p"].tolist() == ((address & 1) == 0).tolist()
    data = path.read_bytes()
    for k in range(5):
        addr, stamp = struct.unpack(">II", data[start + 8 * k:start + 8 * k + 8])
        assert (int(events["x"][k]), int(events["y"][k]), int(events["t"][k])) == (
            127 - (addr >> 1 & 127), 127 - (addr >> 8 & 127), stamp)
