"""The evaluation protocol: test data never reaches training or selection; determinism; sanity scores."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
import torch
from eval_synth import CLASSES, make_task, read_rows, rewrite_manifest
from slicer_embed.training.evaluation.cache import embed_task
from slicer_embed.training.evaluation.embedders import LogMelStats, fixed_crop
from slicer_embed.training.evaluation.manifest import Row, TaskError, ensure_valid, read_manifest
from slicer_embed.training.evaluation.probe import ProbeConfig, fit_probe
from slicer_embed.training.evaluation.protocol import PROTOCOLS, run_task
from slicer_embed.training.evaluation.splits import holdout_mask

FAST = dataclasses.replace(PROTOCOLS["lape"], probe=ProbeConfig(max_epochs=30))


@pytest.fixture(scope="module", autouse=True)
def _single_thread(one_thread):
    yield


@pytest.fixture(scope="module")
def logmel():
    return LogMelStats()


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    return make_task(tmp_path_factory.mktemp("synth") / "task")


def features(seed: int, n: int = 60, d: int = 16, c: int = 3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    X = rng.normal(0, 1, (n, d)).astype(np.float32) + 1.5 * np.eye(c, d, dtype=np.float32)[y]
    return X, y


def test_probe_is_deterministic_for_a_seed():
    X, y = features(0)
    Xv, yv = features(1, n=20)
    cfg = ProbeConfig(max_epochs=15, batch_size=8)
    a, b = (fit_probe(X, y, Xv, yv, 3, cfg, seed=5) for _ in range(2))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert a.best_epoch == b.best_epoch and a.valid_acc == b.valid_acc
    c = fit_probe(X, y, Xv, yv, 3, cfg, seed=6)
    assert not torch.equal(a.weight, c.weight)


def test_probe_selects_the_best_valid_epoch_and_early_stops():
    X, y = features(0)
    Xv, yv = features(1, n=20)
    r = fit_probe(X, y, Xv, yv, 3, ProbeConfig(max_epochs=200, batch_size=8, patience=5, standardize=True), 0)
    assert len(r.valid_acc) < 200  # stopped early
    assert r.valid_acc[r.best_epoch - 1] == max(r.valid_acc)
    assert r.valid_acc.index(max(r.valid_acc)) + 1 <= r.best_epoch  # never later than needed
    assert float((torch.as_tensor(r.predict(Xv)) == torch.as_tensor(yv)).float().mean()) == \
        pytest.approx(r.valid_acc[r.best_epoch - 1])


def test_easy_synthetic_task_scores_above_090_with_logmel(task_dir, logmel, tmp_path):
    out = run_task(logmel, read_manifest(task_dir), PROTOCOLS["lape"], [0], tmp_path / "cache", progress=False)
    assert out.result["accuracy"]["test"]["mean"] > 0.9
    assert out.result["n"] == {"train": 120, "valid": 32, "test": 32}
    assert out.result["classes"] == sorted(CLASSES)  # ids from sorted names, not set order


def test_test_labels_and_audio_never_influence_training_or_selection(task_dir, logmel, tmp_path):
    base = run_task(logmel, read_manifest(task_dir), FAST, [0, 1], tmp_path / "c1", progress=False)
    # Perturb every test row: rotate the labels and overwrite the audio with loud noise.
    poisoned = tmp_path / "poisoned"
    shutil.copytree(task_dir, poisoned)
    rows = read_rows(poisoned)
    rng = np.random.default_rng(0)
    test = [r for r in rows if r[2] == "test"]
    labels = [r[1] for r in test]
    for r, lab in zip(test, labels[1:] + labels[:1]):
        r[1] = lab
        sf.write(poisoned / r[0], rng.normal(0, 0.5, 16000).astype(np.float32), 16000)
    rows.append([test[0][0], CLASSES[0], "test_extra", ""])  # an extra test split changes nothing either
    rewrite_manifest(poisoned, rows)
    other = run_task(logmel, read_manifest(poisoned), FAST, [0, 1], tmp_path / "c2", progress=False)
    assert other.result["best_epochs"] == base.result["best_epochs"]
    assert other.result["valid_accuracy"] == base.result["valid_accuracy"]
    for p, q in zip(base.probes, other.probes):
        assert torch.equal(p.weight, q.weight) and torch.equal(p.bias, q.bias)
    assert other.result["accuracy"]["test"]["mean"] < base.result["accuracy"]["test"]["mean"]
    assert set(other.result["accuracy"]) == {"test", "test_extra"}


def test_run_is_deterministic_and_seeds_give_mean_std(task_dir, logmel, tmp_path):
    a = run_task(logmel, read_manifest(task_dir), FAST, [0, 1, 2], tmp_path / "c", progress=False).result
    b = run_task(logmel, read_manifest(task_dir), FAST, [0, 1, 2], tmp_path / "c", progress=False).result
    assert a["accuracy"] == b["accuracy"] and a["best_epochs"] == b["best_epochs"]
    vals = a["accuracy"]["test"]["per_seed"]
    assert len(vals) == 3 and a["accuracy"]["test"]["mean"] == pytest.approx(np.mean(vals))
    assert a["accuracy"]["test"]["std"] == pytest.approx(np.std(vals, ddof=1))


def test_bad_files_are_skipped_and_reported(task_dir, logmel, tmp_path):
    d = tmp_path / "t"
    shutil.copytree(task_dir, d)
    rows = read_rows(d)
    (d / rows[0][0]).unlink()  # a train file that is missing
    (d / rows[40][0]).write_bytes(b"this is not audio" * 20)  # an undecodable one
    out = run_task(logmel, read_manifest(d), FAST, [0], tmp_path / "c", progress=False)
    skipped = {s["file"]: s["error"] for s in out.result["skipped"]}
    assert set(skipped) == {rows[0][0], rows[40][0]}
    assert "no such file" in skipped[rows[0][0]] and "cannot decode" in skipped[rows[40][0]]
    assert sum(out.result["n"].values()) == len(rows) - 2


def test_class_missing_from_train_fails_naming_class_and_task(task_dir, logmel, tmp_path):
    d = tmp_path / "mytask"
    shutil.copytree(task_dir, d)
    rewrite_manifest(d, [r for r in read_rows(d) if not (r[1] == "high_noise" and r[2] == "train")])
    with pytest.raises(TaskError, match=r"task mytask: class 'high_noise'"):
        run_task(logmel, read_manifest(d), FAST, [0], tmp_path / "c", progress=False)


def test_valid_is_carved_from_train_group_aware_and_recorded(task_dir, logmel, tmp_path):
    d = tmp_path / "noval"
    shutil.copytree(task_dir, d)
    rows = read_rows(d)
    rewrite_manifest(d, [r for r in rows if r[2] != "valid"])
    out = run_task(logmel, read_manifest(d), FAST, [0], tmp_path / "c", progress=False).result
    carve = out["valid_carve"]
    assert carve["seed"] == 0 and carve["n_valid"] == out["n"]["valid"] > 0
    group = {r[0]: r[3] for r in rows}
    valid_groups = {group[f] for f in carve["files"]}
    train_groups = {r[3] for r in rows if r[2] == "train" and r[0] not in set(carve["files"])}
    assert not valid_groups & train_groups
    assert all(group[f].split("-")[1] == "train" for f in carve["files"])  # carved from train only


def test_holdout_mask_is_stratified_seeded_and_keeps_train_examples():
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 1
    groups = [f"g{i // 2}" for i in range(31)]
    m = holdout_mask(labels, groups, 0.2, seed=3)
    assert np.array_equal(m, holdout_mask(labels, groups, 0.2, seed=3))
    held = Counter(lab for lab, k in zip(labels, m) if k)
    assert held["a"] == 4 and held["b"] == 2 and held["c"] == 0  # the singleton class stays in train
    for g in set(groups):  # whole groups only
        assert len({bool(m[i]) for i in range(31) if groups[i] == g}) == 1


def test_ensure_valid_keeps_an_existing_valid_split():
    rows = [Row("a.wav", "x", "train"), Row("b.wav", "x", "valid")]
    assert ensure_valid("t", rows, 0.1, 0) == (rows, None)


def test_embedding_cache_is_reused_and_invalidated_by_file_changes(task_dir, logmel, tmp_path):
    d = tmp_path / "t"
    shutil.copytree(task_dir, d)
    first = embed_task(logmel, read_manifest(d), 1.0, tmp_path / "c", progress=False)
    again = embed_task(logmel, read_manifest(d), 1.0, tmp_path / "c", progress=False)
    assert not first.cached and again.cached and np.array_equal(first.X, again.X)
    other_crop = embed_task(logmel, read_manifest(d), 0.5, tmp_path / "c", progress=False)
    assert other_crop.key != first.key
    name = read_rows(d)[0][0]
    sf.write(d / name, np.zeros(8000, np.float32), 16000)
    changed = embed_task(logmel, read_manifest(d), 1.0, tmp_path / "c", progress=False)
    assert not changed.cached and not np.array_equal(changed.X[0], first.X[0])
    assert np.array_equal(changed.X[1:], first.X[1:])


def test_fixed_crop_centres_and_pads():
    x = np.arange(10, dtype=np.float32)
    assert fixed_crop(x, 4).tolist() == [3, 4, 5, 6]
    assert fixed_crop(x[:2], 6).tolist() == [0, 0, 0, 1, 0, 0]


def test_failed_test_file_leaves_train_and_valid_embeddings_bit_identical(tmp_path):
    import slicer_embed
    from slicer_embed.training.evaluation.embedders import ModelEmbedder

    embedder = ModelEmbedder(slicer_embed.create_model(seed=0), "random(seed=0)", "mean")
    d = make_task(tmp_path / "t", per_split={"train": 3, "valid": 1, "test": 2}, seed=4)
    first = embed_task(embedder, read_manifest(d), 1.0, tmp_path / "c1", batch_size=4, progress=False)
    rows = read_rows(d)
    (d / next(r[0] for r in rows if r[2] == "test")).unlink()
    second = embed_task(embedder, read_manifest(d), 1.0, tmp_path / "c2", batch_size=4, progress=False)
    fit = np.array([r[2] != "test" for r in rows])
    assert second.ok.sum() == len(rows) - 1 and second.ok[fit].all()
    assert np.array_equal(first.X[fit], second.X[fit])


def test_valid_only_never_reads_a_test_file(task_dir, logmel, tmp_path):
    d = tmp_path / "t"
    shutil.copytree(task_dir, d)
    rows = read_rows(d)
    test = [r for r in rows if r[2] == "test"]
    for r in test:  # every test file gone: a valid-only run must not even try to decode one
        (d / r[0]).unlink()
    valid_only = dataclasses.replace(FAST, score_test=False)
    out = run_task(logmel, read_manifest(d), valid_only, [0], tmp_path / "c", progress=False).result
    assert out["skipped"] == [] and "test" not in out["n"] and out["accuracy"] == {}
    full = run_task(logmel, read_manifest(task_dir), FAST, [0], tmp_path / "c2", progress=False).result
    assert out["valid_accuracy"] == full["valid_accuracy"]
