"""Generated audio collections for the ``extract`` tests (good files and hostile ones).

Nothing here is committed audio: every file is synthesised into a pytest ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

import slicer_embed


def tone(seconds: float, sr: int, freq: float = 440.0, channels: int = 1, seed: int = 0) -> np.ndarray:
    """(samples,) or (samples, channels) float32: a tone plus a little noise, peak < 0.6."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    x = 0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))
    if channels > 1:
        x = np.stack([x * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    return x.astype(np.float32)


def can_write_mp3() -> bool:
    return "MP3" in sf.available_formats()


def can_write_opus() -> bool:
    return "OPUS" in sf.available_subtypes("OGG")  # libsndfile >= 1.0.29


def make_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    if not folder.exists():
        slicer_embed.create_model(seed=0).save_pretrained(folder)
    return folder


def make_good(root: Path, long_seconds: float = 0.0) -> list[str]:
    """Write decodable files of assorted formats, rates and lengths; returns their relative paths."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nested" / "deeper").mkdir(parents=True, exist_ok=True)
    sf.write(root / "a_tone.wav", tone(2.0, 16000), 16000, subtype="FLOAT")
    pcm8 = np.clip(tone(1.5, 8000, 300.0, seed=1) * 127 + 128, 0, 255).astype(np.uint8)
    sf.write(root / "nested" / "deeper" / "b_8bit.wav", (pcm8.astype(np.float32) - 128) / 128, 8000,
             subtype="PCM_U8")
    sf.write(root / "nested" / "c_stereo44k.flac", tone(3.1, 44100, 600.0, channels=2, seed=2), 44100)
    sf.write(root / "d_vorbis.ogg", tone(2.3, 22050, 800.0, seed=3), 22050, format="OGG", subtype="VORBIS")
    sf.write(root / "e_10ms.wav", tone(0.01, 16000, seed=4), 16000)
    rels = ["a_tone.wav", "d_vorbis.ogg", "e_10ms.wav", "nested/c_stereo44k.flac", "nested/deeper/b_8bit.wav"]
    if can_write_mp3():
        sf.write(root / "f_mpeg.mp3", tone(2.0, 16000, 500.0, seed=5), 16000, format="MP3",
                 subtype="MPEG_LAYER_III")
        rels.append("f_mpeg.mp3")
    if can_write_opus():  # Opus only runs at 8/12/16/24/48 kHz
        sf.write(root / "h_opus.opus", tone(1.7, 48000, 700.0, seed=8), 48000, format="OGG", subtype="OPUS")
        rels.append("h_opus.opus")
    if long_seconds:
        sf.write(root / "nested" / "g_long.wav", tone(long_seconds, 16000, 220.0, seed=6), 16000)
        rels.append("nested/g_long.wav")
    return sorted(rels, key=_walk_order)


def make_bad(root: Path) -> list[str]:
    """Write files that cannot be embedded; returns their relative paths."""
    (root / "nested").mkdir(parents=True, exist_ok=True)
    (root / "bad_empty.wav").write_bytes(b"")
    sf.write(root / "bad_zero_length.wav", np.zeros(0, np.float32), 16000)
    (root / "nested" / "bad_text.mp3").write_text("this is not audio, just text\n" * 20)
    rng = np.random.default_rng(7)
    (root / "bad_corrupt.flac").write_bytes(b"fLaC" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    (root / "bad_garbage.wav").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    # A FLAC and a WAV cut in half, as an interrupted copy leaves them: the headers are intact, the
    # audio is not. (libsndfile decodes the half WAV without complaint; audio.py checks its header.)
    for ext in ("flac", "wav"):
        whole = root / "nested" / f".whole.{ext}"
        sf.write(whole, tone(2.0, 16000, 350.0, seed=9), 16000)
        data = whole.read_bytes()
        whole.unlink()
        (root / "nested" / f"bad_truncated.{ext}").write_bytes(data[:len(data) // 2])
    return sorted(["bad_empty.wav", "bad_zero_length.wav", "nested/bad_text.mp3", "bad_corrupt.flac",
                   "bad_garbage.wav", "nested/bad_truncated.flac", "nested/bad_truncated.wav"], key=_walk_order)


def _walk_order(rel: str) -> tuple:
    """The order ``os.walk`` with sorted names gives: a folder's files before its subfolders."""
    parts = rel.split("/")
    return tuple((1, p) for p in parts[:-1]) + ((0, parts[-1]),)


def test_generated_collection_is_what_the_tests_expect(tmp_path: Path) -> None:
    good = make_good(tmp_path / "c")
    bad = make_bad(tmp_path / "c")
    assert len(set(good) | set(bad)) == len(good) + len(bad)
    assert sf.info(str(tmp_path / "c" / "nested" / "c_stereo44k.flac")).channels == 2
    assert sf.info(str(tmp_path / "c" / "nested" / "deeper" / "b_8bit.wav")).subtype == "PCM_U8"
    assert sf.info(str(tmp_path / "c" / "bad_zero_length.wav")).frames == 0
    # the truncated FLAC still opens (its header is whole), so the failure comes from decoding
    assert sf.info(str(tmp_path / "c" / "nested" / "bad_truncated.flac")).frames == 32000
    formats = {sf.info(str(tmp_path / "c" / g)).format for g in good}
    assert {"WAV", "FLAC", "OGG"} <= formats
    assert ("MP3" in formats) == can_write_mp3()
    subtypes = {sf.info(str(tmp_path / "c" / g)).subtype for g in good}
    assert ("OPUS" in subtypes) == can_write_opus() and "VORBIS" in subtypes
