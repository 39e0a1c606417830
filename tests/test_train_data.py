"""File lists, random crops and the resumable batch order."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from slicer_embed.training.infra.data import (CropDataset, EpochBatches, FileSource, check_files, fit_length,
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
    from slicer_embed.training.infra.cache import CacheSource, build_cache, is_cache

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
    from slicer_embed.training.infra.data import CropDataset, FileSource
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


# --- domain weights: the share of each domain in the crops of a pass ---

from slicer_embed.training.infra.data import RunBatches, read_domains  # noqa: E402
from slicer_embed.training.infra.domains import domain_plan, parse_domain_weights, pass_draws  # noqa: E402


def test_domain_weights_parse_and_refuse_nonsense():
    assert parse_domain_weights("") == {}
    assert parse_domain_weights("speech=1, music=2,env=0.5") == {"speech": 1.0, "music": 2.0, "env": 0.5}
    for bad in ("speech", "speech=x", "speech=-1", "speech=1,speech=2", "=1", "speech=0,music=0"):
        with pytest.raises(ValueError, match="domain weights"):
            parse_domain_weights(bad)


def test_domain_plan_counts_follow_the_weights_and_add_up():
    domains = ["speech"] * 85 + ["music"] * 12 + ["env"] * 3
    plan = domain_plan(domains, {"speech": 1, "music": 1, "env": 1})
    assert sum(plan.counts) == 100 and sorted(plan.counts) == [33, 33, 34]
    assert max(share for _, share in plan.mix().values()) < 0.45
    assert domain_plan(domains, {"speech": 1, "music": 1, "env": 0}).names == ("music", "speech")
    with pytest.raises(ValueError, match="no weight"):
        domain_plan(domains, {"speech": 1, "music": 1})
    with pytest.raises(ValueError, match="no files"):
        domain_plan(domains, {"speech": 1, "music": 1, "env": 1, "birds": 1})


def test_pass_draws_are_deterministic_balanced_and_without_needless_repeats():
    domains = ["speech"] * 85 + ["music"] * 12 + ["env"] * 3
    plan = domain_plan(domains, {"speech": 1, "music": 1, "env": 1})
    a, b = pass_draws(plan, 7, 3), pass_draws(plan, 7, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, pass_draws(plan, 7, 4))
    assert len(a) == 100
    per_domain = {d: [(int(i), int(r)) for i, r in a if domains[i] == d] for d in ("speech", "music", "env")}
    assert {d: len(v) for d, v in per_domain.items()} == dict(zip(plan.names, plan.counts)) | {}
    # speech is subsampled without repeats; env (3 files, 33-34 draws) cycles its files evenly
    assert len(set(i for i, _ in per_domain["speech"])) == len(per_domain["speech"])
    env_counts = np.bincount([i for i, _ in per_domain["env"]], minlength=100)[97:]
    assert env_counts.max() - env_counts.min() <= 1
    assert len(set(per_domain["env"])) == len(per_domain["env"])  # (file, r-th draw) keys are unique


def test_weighted_batches_resume_exactly_and_crop_repeats_differently(tmp_path):
    corpus = make_corpus(tmp_path / "c", n=6)
    files = list_audio(corpus)
    plan = domain_plan(["a"] * 5 + ["b"], {"a": 1, "b": 1})
    whole = list(EpochBatches(6, 2, 0, 0, plan=plan))
    assert [k for batch in whole for k in batch].count((0, 5, 1)) == 1  # file 5 is drawn 3 times
    assert list(EpochBatches(6, 2, 0, 0, start=1, plan=plan)) == whole[1:]
    run = RunBatches(6, 2, 0, 0, plan=plan)
    it = iter(run)
    assert [next(it) for _ in range(3)] == whole
    ds = CropDataset(FileSource(files), 8000, seed=0)
    first, again = ds[(0, 5, 0)][0], ds[(0, 5, 1)][0]
    assert np.array_equal(first.numpy(), ds[(0, 5)][0].numpy())  # the first draw is today's crop
    assert not np.array_equal(first.numpy(), again.numpy())


def test_read_domains_resolves_paths_like_list_audio(tmp_path):
    corpus = make_corpus(tmp_path / "c", n=3)
    files = list_audio(corpus)
    manifest = corpus / "manifest.csv"
    manifest.write_text("file_name,domain\n" + "".join(f"{f.relative_to(corpus)},{d}\n"
                                                       for f, d in zip(files, ("speech", "music", "env"))))
    assert [read_domains(manifest)[f] for f in list_audio(manifest)] == ["speech", "music", "env"]
    (corpus / "plain.csv").write_text("file_name\n" + "".join(f"{f.relative_to(corpus)}\n" for f in files))
    assert read_domains(corpus / "plain.csv") == {}


def test_corpus_record_names_the_version_and_the_domain_mix(tmp_path):
    from slicer_embed.training.infra.corpus_record import corpus_record
    corpus = make_corpus(tmp_path / "c", n=4)
    files = list_audio(corpus)
    manifest = corpus / "manifest.csv"
    manifest.write_text("file_name,domain,duration\n" + "".join(
        f"{f.relative_to(corpus)},{d},{s}\n" for f, d, s in zip(files, ("speech", "speech", "music", "env"),
                                                               (1800, 1800, 900, 360))))
    plan = domain_plan(["speech", "speech", "music", "env"], {"speech": 1, "music": 1, "env": 2})
    rec = corpus_record(manifest, list_audio(manifest), plan)
    assert rec["files"] == 4 and rec["hours"] == 1.35
    assert rec["hours_by_domain"] == {"env": 0.1, "music": 0.25, "speech": 1.0}
    assert rec["crops_per_pass_by_domain"] == {"env": 2, "music": 1, "speech": 1}
    unweighted = corpus_record(manifest, list_audio(manifest), None)
    assert unweighted["crops_per_pass_by_domain"] == {"env": 1, "music": 1, "speech": 2}
    assert unweighted["sha256"] == rec["sha256"]
    manifest.write_text(manifest.read_text().replace(",360", ",361"))  # another corpus version
    assert corpus_record(manifest, files, plan)["sha256"] != rec["sha256"]
    folder = corpus_record(corpus, files, None)  # a folder: the hash of its file list, no hours
    assert folder["files"] == 4 and len(folder["sha256"]) == 64 and "hours" not in folder


def test_read_domains_finds_the_path_column_as_list_audio_does(tmp_path):
    """One reading of a file list: a header in any case and padding names the path column for both, and a
    row without a path is no file for either."""
    corpus = make_corpus(tmp_path / "c", n=3)
    files = list_audio(corpus)
    manifest = corpus / "manifest.csv"
    manifest.write_text(" File_Name , Domain \n" + "".join(f"{f.relative_to(corpus)}, {d}\n" for f, d in
                                                           zip(files, ("speech", "music", "env"))) + ",env\n")
    assert list_audio(manifest) == files
    assert read_domains(manifest) == dict(zip(files, ("speech", "music", "env")))
