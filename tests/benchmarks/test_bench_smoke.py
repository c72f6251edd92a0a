"""Smoke test of the benchmark suite: the sepconv entry in full (no Ray), and the runner's JSON
in --quick mode. Under a minute on 2 cores."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import ENTRIES, sepconv  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402

ENTRY_KEYS = {"metrics", "goals", "details", "duration_s", "load_before", "load_after"}


def test_sepconv_multiply_adds_match_mobilenets_formula():
    res = sepconv.run(quick=False)
    m = res["metrics"]
    # the headline block (N=32, k=3): 1/N + 1/k² = 0.1424
    assert m["sepconv_formula_ratio"] == pytest.approx(1 / 32 + 1 / 9, rel=1e-4)
    assert m["sepconv_madds_ratio"] == pytest.approx(m["sepconv_formula_ratio"], rel=0.05)
    for row in res["details"]["blocks"]:
        n, k = row["out_channels"], row["kernel"]
        assert row["formula_ratio"] == pytest.approx(1 / n + 1 / k**2, rel=1e-4)
        assert row["madds_ratio"] == pytest.approx(row["formula_ratio"], rel=0.05), row
        assert row["madds_separable"] < row["madds_standard"]
        assert 0 < row["params_ratio"] < 1
    assert {(r["out_channels"], r["kernel"]) for r in res["details"]["blocks"]} >= {
        (w, k) for w in (8, 16, 32, 64) for k in (3, 5)
    }
    assert res["goals"]["sepconv_madds_max_rel_error"]["pass"] is True
    # the whole net: fewer parameters and multiply-adds; accuracies are real numbers
    assert 0 < m["sepconv_net_params_ratio"] < 1 and 0 < m["sepconv_net_madds_ratio"] < 1
    assert m["sepconv_step_time_ratio"] > 0 and m["sepconv_net_epoch_time_ratio"] > 0
    acc = res["details"]["accuracy"]
    for variant in ("standard", "separable", "separable_stem_standard"):
        assert all(0.0 <= a <= 1.0 for a in acc[variant]["final_val_accuracy"])
    assert acc["standard"]["final_val_accuracy"][0] > 0.5  # 20 epochs on digits learn something
    assert -100 <= m["sepconv_acc_delta_pts"] <= 100


def test_quick_runner_writes_json_and_table(tmp_path):
    assert main(["--quick", "--only", "sepconv,batchnorm", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "quick.json").read_text())
    assert doc["mode"] == "quick"
    assert set(doc["entries"]) == {"sepconv", "batchnorm"}
    assert {"cpu_model", "cores", "torch", "ray"} <= set(doc["machine"])
    assert len(doc["load_average"]["before"]) == 3 and len(doc["load_average"]["after"]) == 3
    for name in ("sepconv", "batchnorm"):
        assert ENTRY_KEYS <= set(doc["entries"][name]), name
    assert {
        "sepconv_madds_ratio",
        "sepconv_formula_ratio",
        "sepconv_madds_max_rel_error",
        "sepconv_params_ratio",
        "sepconv_step_time_ratio",
        "sepconv_acc_delta_pts",
    } <= set(doc["entries"]["sepconv"]["metrics"])
    assert {"bn_epochs_ratio", "bn_median_epochs", "no_bn_median_epochs"} <= set(
        doc["entries"]["batchnorm"]["metrics"]
    )
    assert doc["entries"]["sepconv"]["goals"]["sepconv_madds_max_rel_error"]["pass"] is True
    table = (tmp_path / "quick.md").read_text()
    assert "| sepconv | sepconv_madds_ratio |" in table and "PASS" in table
    assert set(ENTRIES) >= set(doc["entries"])
