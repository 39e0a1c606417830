"""Saving and loading model folders: round trip, strict checks with named keys, config validation."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import slicer_embed
from slicer_embed import ConfigError, ModelConfig, ModelNotFoundError, WeightsError, create_model, load
from slicer_embed.config import NormalizationConfig


def test_round_trip(model, model_dir, speech):
    loaded = load(model_dir, device="cpu")
    assert isinstance(loaded, slicer_embed.SlicerModel) and not loaded.training
    assert loaded.config.architecture == model.config.architecture
    np.testing.assert_array_equal(loaded.embed(speech, 16000), model.embed(speech, 16000))
    assert loaded.source == str(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["schema_version"] == 1 and cfg["frontend"]["n_mels"] == 64
    assert len(cfg["provenance"]["weights_sha256"]) == 64
    # the file inside the folder is accepted too
    assert load(model_dir / "model.safetensors", device="cpu").embedding_dim == 2048


def test_normalisation_travels_with_the_weights(tmp_path, speech):
    m = create_model(seed=1)
    m.config = m.config.replace(normalization=NormalizationConfig(mean=-5.0, std=4.0, source="test"))
    m.save_pretrained(tmp_path)
    loaded = load(tmp_path, device="cpu")
    assert loaded.config.normalization.mean == -5.0
    np.testing.assert_array_equal(loaded.embed(speech, 16000), m.embed(speech, 16000))
    assert not np.allclose(loaded.embed(speech, 16000), create_model(seed=1).embed(speech, 16000))


def test_fp16_storage(tmp_path, model, speech):
    slicer_embed.hub.save_pretrained(model, tmp_path, dtype=torch.float16)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    assert tensors["encoder.fc.0.weight"].dtype == torch.float16
    loaded = load(tmp_path, device="cpu")
    assert loaded.encoder.fc[0].weight.dtype == torch.float32
    a, b = loaded.embed(speech, 16000), model.embed(speech, 16000)
    assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.9999


def _tamper(model_dir, tmp_path, edit):
    tensors = load_file(str(model_dir / "model.safetensors"))
    edit(tensors)
    out = tmp_path / "bad"
    out.mkdir()
    save_file(tensors, str(out / "model.safetensors"))
    cfg = json.loads((model_dir / "config.json").read_text())
    cfg["provenance"].pop("weights_sha256")
    (out / "config.json").write_text(json.dumps(cfg))
    return out


def test_strict_loading_names_keys(model_dir, tmp_path):
    bad = _tamper(model_dir, tmp_path, lambda t: t.pop("encoder.fc.3.bias"))
    with pytest.raises(WeightsError, match=r"missing keys \['encoder.fc.3.bias'\]"):
        load(bad)


def test_unexpected_and_misshaped_keys(model_dir, tmp_path):
    def edit(t):
        t["encoder.extra.weight"] = torch.zeros(3)
        t["encoder.fc.0.weight"] = torch.zeros(10, 512)
    bad = _tamper(model_dir, tmp_path, edit)
    with pytest.raises(WeightsError) as e:
        load(bad)
    msg = str(e.value)
    assert "unexpected keys ['encoder.extra.weight']" in msg
    assert "encoder.fc.0.weight: file (10, 512) vs model (2048, 512)" in msg


def test_sha256_mismatch(model_dir, tmp_path):
    import shutil
    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    other = tmp_path / "other"
    create_model(seed=9).save_pretrained(other)
    shutil.copy(other / "model.safetensors", d / "model.safetensors")
    with pytest.raises(WeightsError, match="sha256"):
        load(d)


def test_not_safetensors(model_dir, tmp_path):
    import shutil
    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    torch.save({"a": torch.zeros(1)}, d / "model.safetensors")  # a pickle must never be loaded
    cfg = json.loads((d / "config.json").read_text())
    cfg["provenance"].pop("weights_sha256")
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load(d)


@pytest.mark.parametrize("edit,match", [
    (lambda c: c.update(schema_version=99), "schema_version 99 is not supported"),
    (lambda c: c["frontend"].update(n_mels="64"), r"frontend.n_mels has the wrong type"),
    (lambda c: c["frontend"].update(hop=1), r"frontend has unknown keys \['hop'\]"),
    (lambda c: c.update(extra={}), r"unknown top-level keys \['extra'\]"),
    (lambda c: c["normalization"].update(std=0.0), "normalization.std"),
    (lambda c: c["inference"].update(pooling="median"), "inference.pooling"),
    (lambda c: c["inference"].update(window_frames=90), "multiple of the encoder time stride"),
    (lambda c: c["frontend"].update(f_max=9000.0), "f_max"),
])
def test_config_validation(edit, match):
    cfg = ModelConfig().to_dict()
    edit(cfg)
    with pytest.raises(ConfigError, match=match):
        ModelConfig.from_dict(cfg)


def test_config_round_trip():
    cfg = ModelConfig(provenance={"run": "x"})
    assert ModelConfig.from_dict(json.loads(cfg.to_json())) == cfg


def test_missing_model_messages(tmp_path, monkeypatch):
    with monkeypatch.context() as m:  # a build without the bundled default: a clear error, never random weights
        m.setattr(slicer_embed.hub, "BUNDLED_DIR", tmp_path / "no-weights")
        with pytest.raises(ModelNotFoundError, match="no default pretrained model"):
            load()
    with pytest.raises(ModelNotFoundError, match="no such model folder"):
        load(str(tmp_path / "nope" / "deeper"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        load(tmp_path / "empty")


def test_create_model_pretrained_needs_default(tmp_path, monkeypatch):
    monkeypatch.setattr(slicer_embed.hub, "BUNDLED_DIR", tmp_path / "no-weights")
    with pytest.raises(ModelNotFoundError):
        create_model(pretrained=True)


def test_device_argument(model_dir):
    assert load(model_dir, device="cpu").device.type == "cpu"
    assert load(model_dir, device="auto").device.type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device"):
        load(model_dir, device="tpu:0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            load(model_dir, device="cuda")


def test_saved_files_get_ordinary_permissions(tmp_path):
    # safetensors writes 0600; a default model saved that way and shipped in the wheel would be
    # unreadable to users other than the one who installed it.
    import os
    umask = os.umask(0o022)
    try:
        create_model(seed=0).save_pretrained(tmp_path)
    finally:
        os.umask(umask)
    for name in ("model.safetensors", "config.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert (slicer_embed.hub.BUNDLED_DIR / "config.json").stat().st_mode & 0o044  # shipped files: world-readable


def test_saving_the_same_weights_twice_gives_the_same_file(tmp_path):
    # safetensors' metadata comes out of a hash map in a different order each run; the header is
    # canonicalised so the sha256 in config.json and the CHANGELOG identifies the weights.
    import hashlib
    m = create_model(seed=3)
    shas = set()
    for i in range(4):
        m.save_pretrained(tmp_path / str(i))
        shas.add(hashlib.sha256((tmp_path / str(i) / "model.safetensors").read_bytes()).hexdigest())
    assert len(shas) == 1
    loaded = load(tmp_path / "0", device="cpu")
    for k, v in m.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_truncated_wav_is_reported_not_silently_shortened(tmp_path):
    import soundfile as sf

    from slicer_embed.audio import AudioDecodeError, _wav_missing_bytes, load_audio
    x = (np.random.default_rng(0).standard_normal(16000) * 0.1).astype(np.float32)
    sf.write(tmp_path / "whole.wav", x, 16000)
    data = (tmp_path / "whole.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:-1000])
    assert _wav_missing_bytes(tmp_path / "whole.wav") == 0
    assert _wav_missing_bytes(tmp_path / "cut.wav") == 1000
    with pytest.raises(AudioDecodeError, match=r"cut\.wav: truncated WAV file.*1,000 more bytes"):
        load_audio(tmp_path / "cut.wav", 16000)
    # a streaming writer's placeholder size (0xFFFFFFFF) is not a declaration: the file decodes
    i = data.index(b"data")
    stream = data[:i + 4] + (0xFFFFFFFF).to_bytes(4, "little") + data[i + 8:]
    (tmp_path / "stream.wav").write_bytes(stream)
    assert _wav_missing_bytes(tmp_path / "stream.wav") == 0
    assert len(load_audio(tmp_path / "stream.wav", 16000)) == 16000
