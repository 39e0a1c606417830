"""File lists, random crops and the resumable batch order."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from slicer_embed.training.data import (CropDataset, EpochBatches, FileSource, check_files, fit_length,
                                         list_audio, random_crop_file)
from train_audio import make_corpus


def test_folder_and_csv_lists(tmp_path):
    corpus = make_corpus(tmp_path / "c", n=6)
    files = list_audio(corpus)
    assert len(files) == 6 and any(f.parent.name == "sub" for f in files)
    csv = corpus / "list.csv"
    csv.write_text("files,label\n" + "\n".join(str(f.relative_to(corpus)) for f in files[:4]) + "\n")
    assert list_audio(csv) == [corpus / f.relative_to(corpus) for f in files[:4]]


def test_bad_files_are_reported(tmp_path):
    corpus = make_corpus(tmp_path / "c", n=3)
    (corpus / "broken.wav").write_bytes(b"not a wav at all")
    good, bad = check_files(list_audio(corpus))
    assert len(good) == 3 and len(bad) == 1 and "broken.wav" in bad[0]


def test_crops_have_fixed_length_and_are_seeded(tmp_path):
    sr = 22050
    x = np.sin(np.linspace(0, 2000, 3 * sr)).astype(np.float32)
    sf.write(tmp_path / "long.wav", x, sr)
    sf.write(tmp_path / "short.wav", x[: sr // 4], sr)
    for name in ("long.wav", "short.wav"):
        a = random_crop_file(tmp_path / name, 15200, 16000, np.random.default_rng([1, 2]))
        b = random_crop_file(tmp_path / name, 15200, 16000, np.random.default_rng([1, 2]))
        assert a.shape == (15200,) and a.dtype == np.float32 and np.array_equal(a, b)
    short = random_crop_file(tmp_path / "short.wav", 15200, 16000, np.random.default_rng(0))
    assert short[0] == 0 and short[-1] == 0 and np.abs(short[7000:8000]).max() > 0.1  # centred zero padding


def test_fit_length_pads_symmetrically():
    assert fit_length(np.ones(3, np.float32), 6).tolist() == [0, 1, 1, 1, 0, 0]
    assert fit_length(np.arange(10.0), 4).tolist() == [0, 1, 2, 3]


def test_epoch_batches_partition_and_resume():
    full = list(EpochBatches(20, 4, seed=3, epoch=1))
    assert len(full) == 5 and sorted(i for b in full for _, i in b) == list(range(20))
    assert list(EpochBatches(20, 4, seed=3, epoch=1, start=2)) == full[2:]  # resume mid-epoch
    assert full != list(EpochBatches(20, 4, seed=3, epoch=2))  # new order every epoch
    ranks = [list(EpochBatches(20, 2, seed=3, epoch=1, rank=r, world_size=2)) for r in range(2)]
    seen = [i for r in ranks for b in r for _, i in b]
    assert len(seen) == len(set(seen)) == 20  # ranks see disjoint clips


def test_dataset_is_independent_of_access_order(tmp_path):
    corpus = make_corpus(tmp_path / "c", n=4)
    files = list_audio(corpus)
    longest = int(np.argmax([sf.info(str(f)).duration for f in files]))  # > 0.95 s: crops can move
    ds = CropDataset(FileSource(files), 15200, seed=0)
    a, ia = ds[(0, longest)]
    ds[(0, (longest + 1) % 4)]
    b, ib = ds[(0, longest)]
    assert ia == ib == longest and a.shape == (15200,) and bool((a == b).all())
    assert not bool((ds[(1, longest)][0] == a).all())  # another epoch, another crop


def test_cache_crops_match_file_crops(tmp_path):
    from slicer_embed.training.cache import CacheSource, build_cache, is_cache

    corpus = make_corpus(tmp_path / "c", n=8)
    files = [f for f in list_audio(corpus) if sf.info(str(f)).samplerate == 16000]
    cache = build_cache(files, tmp_path / "cache", dtype="float32")
    assert is_cache(cache) and not (tmp_path / "cache.building").exists()
    cached, direct = CacheSource(cache), FileSource(files)
    assert len(cached) == len(files)
    for i in range(len(files)):
        a = cached.crop(i, 15200, np.random.default_rng([5, i]))
        b = direct.crop(i, 15200, np.random.default_rng([5, i]))
        assert a.shape == (15200,) and np.allclose(a, b, atol=1e-6)
    half = CacheSource(build_cache(files, tmp_path / "cache16"))
    assert np.allclose(half.crop(0, 15200, np.random.default_rng(0)),  # float16 storage: rounding only
                       direct.crop(0, 15200, np.random.default_rng(0)), atol=2e-3)


def test_training_from_a_cache(tmp_path):
    from slicer_embed.training.cli_train import main

    corpus, cache = make_corpus(tmp_path / "c", n=8), tmp_path / "cache"
    assert main(["--data", str(corpus), "--out", str(tmp_path / "run"), "--cache", str(cache), "--preset", "smoke",
                 "--max-steps", "2", "--batch-size", "4", "--progress", "false", "--device", "cpu"]) == 0
    assert (cache / "index.json").is_file() and (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_a_file_deleted_mid_run_is_replaced_by_the_next_one(tmp_path):
    from slicer_embed.training.data import CropDataset, FileSource
    files = []
    for i in range(3):
        p = tmp_path / f"f{i}.wav"
        sf.write(p, np.full(16000, 0.1 * (i + 1), np.float32), 16000)
        files.append(p)
    ds = CropDataset(FileSource(files, 16000), 8000, seed=0)
    files[1].unlink()  # gone after the run listed it
    with pytest.warns(RuntimeWarning, match="f1.wav"):
        wave, used = ds[(0, 1)]
    assert used == 2 and np.allclose(wave.numpy(), 0.3, atol=1e-3)  # file 2's content, deterministically
    for f in (files[0], files[2]):
        f.unlink()
    with pytest.raises(Exception, match="cannot be read"):
        ds[(0, 0)]
