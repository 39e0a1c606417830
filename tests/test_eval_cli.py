"""``slicer-embed eval`` end to end: model folders and baselines, results files, --compare, exit codes."""

from __future__ import annotations

import json
import shutil

import pytest
from eval_synth import make_task, read_rows, rewrite_manifest

import slicer_embed
from slicer_embed.cli import main as cli

SMALL = {"train": 8, "valid": 3, "test": 3}


@pytest.fixture(scope="module", autouse=True)
def _single_thread(one_thread):
    yield


@pytest.fixture(scope="module")
def small_task(tmp_path_factory):
    return make_task(tmp_path_factory.mktemp("cli") / "tones", per_split=SMALL, seed=1)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval_model") / "m"
    slicer_embed.create_model(seed=0).save_pretrained(d)
    return d


def run(tmp_path, *extra):
    return cli(["eval", "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--max-epochs", "10", *extra])


def test_model_folder_run_writes_complete_results(tmp_path, small_task, saved_model):
    out = tmp_path / "res"
    assert run(tmp_path, "--model", str(saved_model), "--tasks", str(small_task), "--out", str(out),
               "--seeds", "2") == 0
    data = json.loads((out / "results.json").read_text())
    res = data["tasks"]["tones"]
    assert res["n"] == {"train": 32, "valid": 12, "test": 12}
    assert len(res["accuracy"]["test"]["per_seed"]) == 2 and 0.0 <= res["accuracy"]["test"]["mean"] <= 1.0
    assert data["protocol"]["name"] == "lape" and data["protocol"]["pooling"] == "mean"
    assert data["protocol"]["probe"]["max_epochs"] == 10
    sha = json.loads((saved_model / "config.json").read_text())["provenance"]["weights_sha256"]
    assert data["model"]["provenance"]["weights_sha256"] == sha
    assert len(data["model"]["identity"]["weights_sha256"]) == 64
    assert data["package_version"] == slicer_embed.__version__ and data["seeds"] == [0, 1]
    md = (out / "results.md").read_text()
    assert "| model | tones | mean |" in md and "±" in md
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_builds_a_tasks_by_models_table_and_chart(tmp_path, small_task, saved_model):
    t2 = tmp_path / "tones2"
    make_task(t2, per_split={"train": 8, "valid": 3, "test": 3, "test_other": 3}, seed=2)
    for name, model in (("a", "logmel"), ("b", "random")):
        assert run(tmp_path, "--model", model, "--tasks", f"{small_task},{t2}", "--out", str(tmp_path / name),
                   "--seeds", "1", "--protocol", "evar") == 0
    assert cli(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp")]) == 0
    md = (tmp_path / "cmp" / "results.md").read_text().splitlines()
    assert md[0] == "| model | tones | tones2 | tones2/test_other | mean |"
    assert md[2].startswith("| logmel [evar] |") and md[3].startswith("| random(seed=0) [evar] |")
    table = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["accuracy_percent_mean_std"]
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    assert table["logmel [evar]"]["tones2/test_other"][0] == pytest.approx(
        100 * a["tasks"]["tones2"]["accuracy"]["test_other"]["mean"])
    assert (tmp_path / "cmp" / "results.png").stat().st_size > 1000


def test_skipped_files_give_exit_1_and_are_listed(tmp_path, small_task):
    d = tmp_path / "t"
    shutil.copytree(small_task, d)
    rows = read_rows(d)
    rewrite_manifest(d, [*rows, ["missing.wav", rows[0][1], "train", ""]])
    assert run(tmp_path, "--model", "logmel", "--tasks", str(d), "--out", str(tmp_path / "r"), "--seeds", "1") == 1
    res = json.loads((tmp_path / "r" / "results.json").read_text())["tasks"]["t"]
    assert [s["file"] for s in res["skipped"]] == ["missing.wav"]


def test_usage_and_model_errors_exit_2(tmp_path, small_task, capsys):
    out = str(tmp_path / "r")
    assert run(tmp_path, "--model", str(tmp_path / "nope"), "--tasks", str(small_task), "--out", out) == 2
    assert "cannot load model" in capsys.readouterr().err
    assert run(tmp_path, "--model", "logmel", "--tasks", "no_such_task", "--out", str(tmp_path / "r")) == 2
    assert "no_such_task" in capsys.readouterr().err
    assert run(tmp_path, "--model", "logmel", "--tasks", str(small_task), "--out", str(tmp_path / "r"),
               "--finetune") == 2
    assert "needs a SLICER model" in capsys.readouterr().err
    assert cli(["eval", "--compare", str(tmp_path / "nothing"), "--out", str(tmp_path / "c")]) == 2
