"""The bundled default model: it loads with no network, its weights are the ones the CHANGELOG names,
and its embedding of a fixed input never changes silently (golden regression test).

Regenerate the golden file only on purpose, when new default weights ship:
``SLICER_EMBED_UPDATE_GOLDEN=1 python -m pytest tests/test_default_model.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import slicer_embed
from slicer_embed import hub

from conftest import FIXTURES, SR, tone

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = FIXTURES / "golden_default_embedding.npz"
BUNDLED = hub.BUNDLED_DIR / hub.WEIGHTS_NAME
MAX_BYTES = 25 * 1024 * 1024

pytestmark = pytest.mark.skipif(not BUNDLED.is_file(), reason="this build ships no default model")


def golden_input(speech: np.ndarray) -> np.ndarray:
    """3.43 s at 16 kHz: the real speech fixture, then a 440 Hz tone (speech and a stationary sound)."""
    return np.concatenate([speech, tone(440.0, 2.0)]).astype(np.float32)


@pytest.fixture(scope="module")
def default_model():
    return slicer_embed.load(device="cpu")


def test_default_weights_are_small_and_named_everywhere(default_model):
    assert BUNDLED.stat().st_size <= MAX_BYTES
    assert BUNDLED.stat().st_mode & 0o044 == 0o044  # world-readable once installed from the wheel
    sha = hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    config = json.loads((hub.BUNDLED_DIR / hub.CONFIG_NAME).read_text())
    assert config["provenance"]["weights_sha256"] == sha
    assert sha in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), "CHANGELOG must name the shipped weights"
    assert default_model.source == "bundled"
    # Trained normalisation statistics, not the placeholders of an untrained config.
    assert config["normalization"]["source"] != "none"


def test_golden_embedding(default_model, speech):
    x = golden_input(speech)
    clip = default_model.embed(x, SR)
    frames = default_model.embed_frames(x, SR)
    if os.environ.get("SLICER_EMBED_UPDATE_GOLDEN") == "1":
        np.savez(GOLDEN, clip=clip, frames=frames.embeddings, timestamps=frames.timestamps,
                 weights_sha256=np.array(hashlib.sha256(BUNDLED.read_bytes()).hexdigest()))
    golden = np.load(GOLDEN, allow_pickle=False)
    assert str(golden["weights_sha256"]) == hashlib.sha256(BUNDLED.read_bytes()).hexdigest(), \
        "the golden file belongs to other weights: regenerate it on purpose (see this module's docstring)"
    # Float rounding across CPUs and torch builds only (oneDNN picks its kernels per instruction set):
    # the golden file, written on an AMD EPYC, reads within 4.4e-6 of the largest feature on an Intel
    # Xeon with AMX, on torch 2.1 and 2.11 alike. Any real change in the model moves far more.
    for got, want in ((clip, golden["clip"]), (frames.embeddings, golden["frames"])):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5 * float(np.abs(want).max()))
    np.testing.assert_array_equal(frames.timestamps, golden["timestamps"])


def test_create_model_pretrained_is_the_default(default_model, speech):
    again = slicer_embed.create_model(pretrained=True)
    np.testing.assert_array_equal(again.embed(speech, SR), default_model.embed(speech, SR))


def test_readme_main_job_on_the_default(tmp_path, speech):
    import soundfile as sf
    (tmp_path / "audio" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "audio" / "a.wav", speech, SR)
    sf.write(tmp_path / "audio" / "sub" / "b.flac", tone(330.0, 1.5), SR)
    out = tmp_path / "emb.npy"
    r = subprocess.run([sys.executable, "-m", "slicer_embed", "extract", str(tmp_path / "audio"), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = np.load(out)
    assert rows.shape == (2, 2048) and np.isfinite(rows).all()
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["paths"] == ["a.wav", "sub/b.flac"]
    np.testing.assert_allclose(rows[0], slicer_embed.load().embed(speech, SR), rtol=1e-4, atol=1e-5)


def test_hub_ready_export_of_the_default(tmp_path, default_model, speech):
    from slicer_embed.commands import export
    assert export.main(["default", str(tmp_path / "hub")]) == 0
    hub_dir = tmp_path / "hub"
    card = (hub.BUNDLED_DIR.parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert (hub_dir / "README.md").read_text(encoding="utf-8") == card  # the card is the Hub README
    np.testing.assert_array_equal(slicer_embed.load(hub_dir).embed(speech, SR), default_model.embed(speech, SR))


def test_model_card_names_the_shipped_weights():
    card = (hub.BUNDLED_DIR.parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    sha = hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    assert sha in card
    for placeholder in ("WEIGHTS_SHA256", "RESULTS_TABLE", "RECIPE_LINE", "WALL_TIME", "STEPS"):
        assert placeholder not in card
