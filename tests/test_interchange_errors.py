"""Broken or unsupported NIR and ONNX files give errors that name the file or node."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sastc.backends import EmitInput
from sastc.backends.nir_export import emit_nir
from sastc.backends.nir_import import import_nir
from sastc.backends.nir_reading import NirOptions
from sastc.backends.onnx_export import emit_onnx
from sastc.errors import GraphError, InterchangeError
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.lower import fuse
from sastc.spec import parse_arch

nir = pytest.importorskip("nir")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> EmitInput:
    spec = parse_arch("conv(4, 3, stride=2) dense(8) readout", (2, 12, 12), 3)
    graph = graph_from_spec(spec, random_params(spec, 0), {"time_bins": 4})
    return EmitInput(graph, fuse(graph))


def write_nir(path: Path, nodes: dict, edges: list) -> Path:
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    return path


def lif(size: int, **overrides: np.ndarray) -> Any:
    params = {"tau": np.full(size, 1e-3), "r": np.full(size, 10.0), "v_leak": np.zeros(size),
              "v_threshold": np.ones(size), "v_reset": np.zeros(size)} | overrides
    return nir.LIF(**params)


def dense_chain(middle: dict, edges: list) -> tuple[dict, list]:
    nodes = {"input": nir.Input(np.array([4])),
             "fc": nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)), **middle,
             "output": nir.Output(np.array([3]))}
    return nodes, [("input", "fc"), *edges]


def expect(error: type[Exception], *fragments: str) -> Any:
    pattern = "".join(f"(?=.*{re.escape(fragment)})" for fragment in fragments)
    return pytest.raises(error, match=re.compile(pattern, re.DOTALL))


def test_garbage_nir_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.nir"
    path.write_bytes(b"this is not HDF5" * 64)
    with expect(InterchangeError, str(path), "not a readable NIR file"):
        import_nir(path)


def test_truncated_nir_file_names_the_file(tmp_path: Path, model: EmitInput) -> None:
    whole = emit_nir(model, tmp_path)[0].read_bytes()
    path = tmp_path / "truncated.nir"
    path.write_bytes(whole[: len(whole) // 2])
    with expect(InterchangeError, str(path)):
        import_nir(path)


def test_missing_nir_file(tmp_path: Path) -> None:
    with expect(InterchangeError, "absent.nir", "no such NIR file"):
        import_nir(tmp_path / "absent.nir")


def test_cycle_is_rejected_naming_its_nodes(tmp_path: Path) -> None:
    nodes, edges = dense_chain({"lif": lif(3), "w_rec": nir.Linear(weight=np.eye(3))},
                               [("fc", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                                ("lif", "output")])
    with expect(GraphError, "cycle", "'lif'", "'w_rec'", "feed-forward"):
        import_nir(write_nir(tmp_path / "cycle.nir", nodes, edges))


def test_branch_is_rejected_naming_the_node(tmp_path: Path) -> None:
    nodes, edges = dense_chain({"lif": lif(3), "lif_b": lif(3)},
                               [("fc", "lif"), ("fc", "lif_b"), ("lif", "output")])
    with expect(GraphError, "node 'fc' feeds 2 nodes", "one chain"):
        import_nir(write_nir(tmp_path / "branch.nir", nodes, edges))


@pytest.mark.parametrize("node, type_name", [
    ("threshold", "Threshold"), ("delay", "Delay"), ("subgraph", "NIRGraph")])
def test_unsupported_node_lists_the_supported_types(node: str, type_name: str,
                                                    tmp_path: Path) -> None:
    unsupported = {
        "threshold": lambda: nir.Threshold(threshold=np.ones(3)),
        "delay": lambda: nir.Delay(delay=np.ones(3)),
        "subgraph": lambda: nir.NIRGraph.from_list(lif(3)),
    }[node]()
    nodes, edges = dense_chain({node: unsupported}, [("fc", node), (node, "output")])
    with expect(InterchangeError, f"node {node!r}", type_name, "supported node types", "LIF",
                "Conv2d"):
        import_nir(write_nir(tmp_path / f"{node}.nir", nodes, edges))


def test_mismatched_shapes_name_both_nodes(tmp_path: Path) -> None:
    nodes, edges = dense_chain({"lif": lif(5)}, [("fc", "lif"), ("lif", "output")])
    with expect(GraphError, "node 'fc' (Affine) outputs shape (3,)", "node 'lif' (LIF)",
                "expects input shape (5,)"):
        import_nir(write_nir(tmp_path / "shapes.nir", nodes, edges))


def test_affine_fan_in_mismatch_names_both_nodes(tmp_path: Path) -> None:
    nodes, edges = dense_chain({"lif": lif(3)}, [("fc", "lif"), ("lif", "output")])
    nodes["input"] = nir.Input(np.array([6]))
    with expect(GraphError, "node 'input' (Input) outputs shape (6,)", "node 'fc' (Affine)"):
        import_nir(write_nir(tmp_path / "fan_in.nir", nodes, edges))


def test_nonzero_reset_potential_is_rejected(tmp_path: Path) -> None:
    nodes, edges = dense_chain({"lif": lif(3, v_reset=np.full(3, -0.5))},
                               [("fc", "lif"), ("lif", "output")])
    with expect(InterchangeError, "node 'lif' (LIF)", "v_reset must be 0", "-0.5"):
        import_nir(write_nir(tmp_path / "reset.nir", nodes, edges))


def test_time_constant_shorter_than_dt_is_rejected(tmp_path: Path) -> None:
    nodes, edges = dense_chain({"lif": lif(3, tau=np.full(3, 1e-5))},
                               [("fc", "lif"), ("lif", "output")])
    with expect(InterchangeError, "node 'lif' (LIF)", "tau must be", ">= dt"):
        import_nir(write_nir(tmp_path / "tau.nir", nodes, edges), NirOptions(dt=1e-4))


def test_partial_flatten_is_rejected(tmp_path: Path) -> None:
    nodes = {"input": nir.Input(np.array([2, 4, 4])),
             "flat": nir.Flatten(input_type={"input": np.array([2, 4, 4])}, start_dim=1),
             "output": nir.Output(np.array([2, 16]))}
    with expect(InterchangeError, "node 'flat' (Flatten)", "start_dim=0"):
        import_nir(write_nir(tmp_path / "flat.nir", nodes, [("input", "flat"), ("flat", "output")]))


def test_gain_without_a_synapse_to_fold_into(tmp_path: Path) -> None:
    nodes = {"input": nir.Input(np.array([3])), "lif": lif(3, r=np.full(3, 20.0)),
             "output": nir.Output(np.array([3]))}
    with expect(InterchangeError, "node 'lif' (LIF)", "Conv2d/Affine/Linear", "'input'"):
        import_nir(write_nir(tmp_path / "gain.nir", nodes, [("input", "lif"), ("lif", "output")]),
                   NirOptions(dt=1e-4))


def test_graph_without_input_node(tmp_path: Path) -> None:
    nodes = {"fc": nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)), "lif": lif(3)}
    with expect(GraphError, "one Input node"):
        import_nir(write_nir(tmp_path / "no_input.nir", nodes, [("fc", "lif")]))


# --- ONNX ---------------------------------------------------------------------------------


def test_garbage_onnx_file_names_the_file(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from sastc.sim.onnx_runner import OnnxRunner

    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x00\xffnot protobuf" * 32)
    with expect(InterchangeError, str(path), "not a valid ONNX model"):
        OnnxRunner(path)


def test_truncated_onnx_file_names_the_file(tmp_path: Path, model: EmitInput) -> None:
    pytest.importorskip("onnxruntime")
    from sastc.sim.onnx_runner import OnnxRunner

    whole = emit_onnx(model, tmp_path)[0].read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    with expect(InterchangeError, str(path)):
        OnnxRunner(path)


def test_foreign_onnx_model_is_rejected(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    import onnx
    from onnx import TensorProto, helper

    from sastc.sim.onnx_runner import OnnxRunner

    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [value],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with expect(InterchangeError, str(path), "not a sastc one-step model"):
        OnnxRunner(path)
