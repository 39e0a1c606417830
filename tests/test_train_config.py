"""Presets and the dataclass -> argparse bridge."""

from __future__ import annotations

import argparse

import pytest

from slicer_embed.training.method.config import (PRESETS, REFERENCE, PretrainConfig, add_config_arguments,
                                                 config_from_args)


def parse(argv):
    p = argparse.ArgumentParser()
    add_config_arguments(p)
    return p.parse_args(argv)


def test_reference_preset_matches_method_md():
    r = REFERENCE
    assert (r.optimizer, r.lr, r.momentum, r.weight_decay) == ("sgd", 3e-4, 0.9, 1e-4)
    assert (r.batch_size, r.epochs, r.amp) == (512, 50, False)
    assert (r.queue_size, r.temperature, r.symmetric, r.instance_dim, r.n_clusters) == (65536, 0.07, "sum", 128, 128)
    assert (r.cluster_temperature, r.cluster_entropy, r.ema_momentum) == (1.0, False, 0.999)
    assert r.augmentation_list == ["mixup", "rrc", "kmix"]
    assert (r.memory_size, r.mixup_ratio, r.kmix_ratio, r.kmix_clusters, r.kmix_iters) == (2048, 0.4, 0.4, 4, 20)
    assert (r.kmix_fraction, r.kmix_top_k, r.crop_samples) == (0.05, 128, 15200)
    assert r.rrc_freq_scale == (0.6, 1.5) and r.rrc_time_scale == (0.6, 1.5) and r.rrc_virtual_scale == (1.0, 1.5)
    assert r.ema_in_forward and r.enqueue_per_direction and r.kmix_features == "raw"


def test_all_presets_validate_and_round_trip():
    for name, cfg in PRESETS.items():
        assert PretrainConfig.from_dict(cfg.to_dict()) == cfg, name


def test_overrides_of_every_kind():
    args = parse(["--lr", "0.01", "--batch-size", "64", "--amp", "true", "--rrc-time-scale", "0.5,1.0",
                  "--augmentations", "mixup,rrc", "--symmetric", "mean"])
    cfg = config_from_args("reference", args)
    assert cfg.lr == 0.01 and cfg.batch_size == 64 and cfg.amp is True
    assert cfg.rrc_time_scale == (0.5, 1.0) and cfg.augmentation_list == ["mixup", "rrc"]
    assert cfg.symmetric == "mean" and cfg.queue_size == REFERENCE.queue_size  # untouched fields keep the preset


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="symmetric"):
        config_from_args("default", parse(["--symmetric", "max"]))
    with pytest.raises(ValueError, match="augmentations"):
        config_from_args("default", parse(["--augmentations", "mixup,specaug"]))
    with pytest.raises(SystemExit):
        parse(["--amp", "maybe"])
    with pytest.raises(ValueError, match="unknown keys"):
        PretrainConfig.from_dict({"learning_rate": 1.0})


def test_learning_rate_schedules():
    from slicer_embed.training.method.schedules import learning_rate

    assert learning_rate(5, 0.1, 100) == 0.1  # constant (the reference)
    assert learning_rate(0, 0.1, 100, "cosine", warmup_steps=10) == pytest.approx(0.01)
    assert learning_rate(9, 0.1, 100, "cosine", warmup_steps=10) == pytest.approx(0.1)
    assert learning_rate(10, 0.1, 100, "cosine", warmup_steps=10) == pytest.approx(0.1)
    assert learning_rate(55, 0.1, 100, "cosine", warmup_steps=10) == pytest.approx(0.05)
    assert learning_rate(100, 0.1, 100, "cosine", warmup_steps=10) == pytest.approx(0.0, abs=1e-12)


def test_checkpoints_are_atomic_and_pruned(tmp_path):
    import torch

    from slicer_embed.training.infra.checkpoint import (checkpoint_path, latest_checkpoint, list_checkpoints,
                                                        load_checkpoint, prune, save_checkpoint)

    for step in (1, 2, 3):
        save_checkpoint({"student": {"w": torch.ones(2) * step}, "config": {}}, checkpoint_path(tmp_path, step))
    (tmp_path / "checkpoints" / "step_00000009.pt.tmp").write_bytes(b"half written")  # a crash mid-write
    assert latest_checkpoint(tmp_path).name == "step_00000003.pt"  # temporary files are never picked
    prune(tmp_path, 2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000002.pt", "step_00000003.pt"]
    assert float(load_checkpoint(latest_checkpoint(tmp_path))["student"]["w"][0]) == 3.0
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")


def test_cpu_preset_is_the_shipped_models_recipe():
    # docs/results.md: the default model is the end (step 9,178, 13 passes) of the run
    # `--preset cpu --epochs 13 --domain-weights speech=1,music=1,env=1 --rrc-freq-views 0` on the
    # every-kind corpus; the shipped config.json records the run's recipe, so those flags train it again.
    import json

    from slicer_embed.hub import BUNDLED_DIR
    cpu, default = PRESETS["cpu"], PRESETS["default"]
    assert (cpu.batch_size, cpu.epochs, cpu.max_steps, cpu.optimizer, cpu.lr, cpu.lr_schedule) == \
        (64, 30, 0, "adamw", 1e-3, "cosine")
    assert (cpu.cluster_weight, cpu.queue_size, cpu.ema_momentum) == (1.0, 8192, 0.99)
    assert cpu.augmentation_list == default.augmentation_list and cpu.amp and cpu.channels_last and cpu.fast_encoder
    shipped = BUNDLED_DIR / "config.json"
    if shipped.is_file():
        provenance = json.loads(shipped.read_text())["provenance"]
        recipe = provenance["recipe"]
        documented = cpu.replace(epochs=13, domain_weights="speech=1,music=1,env=1", rrc_freq_views=0)
        differing = {k for k, v in documented.to_dict().items()
                     if k in recipe and recipe[k] != (list(v) if isinstance(v, tuple) else v)}
        # only how the run was displayed and which checkpoints it kept
        assert differing <= {"progress", "keep_steps", "checkpoint_every", "keep_checkpoints", "stop_at_step"}, differing
        assert provenance["steps"] == provenance["training"]["steps"] == 9178
        assert recipe["stop_at_step"] in (0, provenance["steps"])
        # the whole schedule: pretrain runs len(files) // batch steps per epoch, and a pass is len(files) crops
        files = provenance["training"]["corpus_files"]
        assert files == provenance["corpus"]["files"] == 45232
        assert provenance["steps"] == recipe["epochs"] * (files // recipe["batch_size"])
        shares = provenance["corpus"]["crops_per_pass_by_domain"]
        assert max(shares.values()) / sum(shares.values()) < 0.45  # issue 22: no domain above 45 % of a pass


def test_byol_preset_is_byol_a_on_the_cpu_budget():
    byol, cpu = PRESETS["cpu-byol"], PRESETS["cpu"]
    assert byol.objective == "byol" and cpu.objective == "slicer"
    assert (byol.instance_dim, byol.projector_hidden, byol.predictor_hidden) == (256, 4096, 4096)  # BYOL-A's MLPs
    assert byol.augmentation_list == ["mixup", "rrc"] and byol.cluster_weight == 0.0
    same = ("batch_size", "epochs", "optimizer", "lr", "weight_decay", "lr_schedule", "warmup_steps", "ema_momentum",
            "seed", "crop_samples", "rrc_freq_scale", "rrc_time_scale", "mixup_ratio", "amp", "fast_encoder")
    assert all(getattr(byol, k) == getattr(cpu, k) for k in same)  # the comparison changes the objective only
    with pytest.raises(ValueError, match="objective"):
        PRESETS["reference"].replace(objective="byol")  # the reference updates the teacher inside each direction
    with pytest.raises(ValueError, match="objective"):
        PRESETS["default"].replace(objective="mse")


def test_resume_treats_fields_a_checkpoint_predates_as_their_defaults():
    from slicer_embed.training.method.pretrain import _resumed_config

    cpu = PRESETS["cpu"]
    old = {k: v for k, v in cpu.to_dict().items() if k not in ("objective", "projector_hidden", "predictor_hidden")}
    assert _resumed_config({"config": old}, cpu.replace(max_steps=5)).max_steps == 5
    with pytest.raises(ValueError, match="objective"):
        _resumed_config({"config": old}, PRESETS["cpu-byol"])
