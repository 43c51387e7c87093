"""Which classes fail: per-class accuracy and confusion matrices in eval and simulate."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sastc.cli import main
from sastc.cli.eval_cmd import format_report
from sastc.errors import SastcError
from sastc.metrics import class_names, confusion_matrix, per_class_accuracy
from sastc.plots import plot_confusion
from sastc.report import confusion_lines, per_class_lines
from sastc.simulate import simulate_text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_confusion_matrix_counts_true_rows_and_predicted_columns() -> None:
    labels = np.array([0, 0, 0, 1, 1, 3, 3, 3])
    predicted = np.array([0, 1, 0, 1, 3, 3, 0, 3])
    matrix = confusion_matrix(labels, predicted, 4)
    assert matrix.dtype == np.int64 and matrix.shape == (4, 4)
    assert matrix.tolist() == [[2, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 2]]
    result = per_class_accuracy(matrix, ["a", "b", "empty", "d"])
    assert result["empty"] == {"accuracy": None, "samples": 0, "correct": 0}
    assert result["a"]["correct"] == 2 and result["a"]["accuracy"] == pytest.approx(200 / 3)
    assert result["b"] == {"accuracy": 50.0, "samples": 2, "correct": 1}
    assert sum(r["samples"] for r in result.values()) == len(labels)


def test_two_classes_and_wrong_inputs() -> None:
    matrix = confusion_matrix(np.array([1, 1, 0]), np.array([1, 0, 0]), 2)
    assert matrix.tolist() == [[1, 0], [1, 1]]
    assert per_class_accuracy(matrix, ["no", "yes"])["yes"]["accuracy"] == 50.0
    with pytest.raises(ValueError, match=r"prediction outside 0\.\.1"):
        confusion_matrix(np.array([0]), np.array([2]), 2)
    with pytest.raises(ValueError, match="2 labels but 1 predictions"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(ValueError, match="for 3 classes"):
        per_class_accuracy(matrix, ["a", "b", "c"])
    assert class_names(("x",), 3) == ["x", "output 1", "output 2"]


def test_text_matrix_is_aligned_and_long_names_are_cut() -> None:
    classes = ["Caixa", "Caneca", "Garrafa_de_agua_grande"]
    matrix = [[120, 3, 0], [0, 7, 1], [0, 0, 0]]
    lines = confusion_lines(matrix, classes)
    assert len({len(line) for line in lines}) == 1
    assert "Garrafa_de_~" in lines[3] and lines[1].split()[-3:] == ["120", "3", "0"]
    report = {"classes": classes,
              "per_class": per_class_accuracy(np.array(matrix), classes)}
    table = per_class_lines(report, [("hard", "per_class")])
    assert table[1].split() == ["0", "Caixa", "123", "97.56%"]
    assert table[3].split()[-2:] == ["0", "-"]
    many = [f"c{i}" for i in range(21)]
    (line,) = confusion_lines(np.eye(21, dtype=int).tolist(), many)
    assert "21 classes" in line and "--json" in line


def _check_confusion(report: dict, accuracy_key: str, per_class_key: str = "per_class") -> None:
    classes = report["classes"]
    matrix = np.array(report["confusion"])
    assert matrix.shape == (len(classes), len(classes))
    assert matrix.sum() == report["samples"]
    correct = round(report[accuracy_key] * report["samples"] / 100)
    assert np.trace(matrix) == correct
    per_class = report[per_class_key]
    assert list(per_class) == classes
    assert sum(entry["correct"] for entry in per_class.values()) == correct
    assert [entry["samples"] for entry in per_class.values()] == matrix.sum(axis=1).tolist()


def test_eval_reports_per_class_and_draws_the_matrix(trained_checkpoint: Path,
                                                     tmp_path: Path) -> None:
    plot = tmp_path / "confusion.png"
    code, out, err = invoke("eval", str(trained_checkpoint), "--json", "--confusion", str(plot))
    assert code == 0, err
    report = json.loads(out)
    assert len(report["classes"]) == 4
    _check_confusion(report, "hard_accuracy")
    surrogate = dict(report, confusion=report["confusion_surrogate"])
    _check_confusion(surrogate, "surrogate_accuracy", "per_class_surrogate")
    assert plot.read_bytes().startswith(PNG_MAGIC)
    text = format_report(report)
    assert all(name in text for name in report["classes"]) and "true \\ predicted" in text


@pytest.fixture(scope="module")
def build(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sastc.compile import CompileOptions, compile_model

    out = tmp_path_factory.mktemp("confusion") / "build"
    compile_model(trained_checkpoint, CompileOptions(out_dir=str(out), calibrate=False,
                                                     verify=False, progress=False),
                  log=lambda _: None)
    return out


def test_simulate_reports_the_integer_model_and_draws_the_matrix(build: Path,
                                                                 tmp_path: Path) -> None:
    plot = tmp_path / "sim.png"
    code, out, err = invoke("simulate", str(build), "--json", "--confusion", str(plot))
    assert code == 0, err
    report = json.loads(out)
    assert report["confusion_model"] == "integer"
    _check_confusion(report, "int_accuracy")
    hard = dict(report, per_class=report["per_class_float_hard"])
    assert sum(e["correct"] for e in hard["per_class"].values()) == round(
        report["float_hard_accuracy"] * report["samples"] / 100)
    assert plot.read_bytes().startswith(PNG_MAGIC)
    text = simulate_text(report)
    assert "Confusion matrix, integer model" in text
    assert all(name in text for name in report["classes"])


def test_simulate_without_integer_model_uses_float_hard(build: Path, tmp_path: Path) -> None:
    float_only = tmp_path / "float-only"
    shutil.copytree(build, float_only)
    (float_only / "model.npz").unlink()
    code, out, err = invoke("simulate", str(float_only), "--json", "--limit", "20")
    assert code == 0, err
    report = json.loads(out)
    assert report["confusion_model"] == "float-hard" and "int_accuracy" not in report
    _check_confusion(report, "float_hard_accuracy")
    assert report["per_class"] == report["per_class_float_hard"]


def test_unwritable_plot_path_is_one_clear_line(trained_checkpoint: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the plot's directory should be")
    target = blocker / "confusion.png"
    with pytest.raises(SastcError, match=f"cannot write plot {re.escape(str(target))}"):
        plot_confusion([[1, 0], [0, 1]], ["a", "b"], target, "t")
    code, out, err = invoke("eval", str(trained_checkpoint), "--confusion", str(target))
    assert code == 2, (code, out, err)
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert str(blocker) in err
    assert blocker.read_text().startswith("a file")
