"""Hostile models, hostile file names and inputs, concurrent runs, and crashes at the wrong moment.

Each test pins one behaviour of the contract in docs/extract.md ("Reliability"): a broken model is
refused at load with an error naming the file and the problem, one bad input never stops a batch,
an output and its sidecar never disagree, and a second run on the same output is turned away.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import slicer_embed
from slicer_embed import audio as audio_mod
from slicer_embed.config import ConfigError, ModelConfig
from slicer_embed.extraction import writers
from slicer_embed.hub import WeightsError
from slicer_embed.locking import OutputLock, OutputLocked
from slicer_embed.paths import display, tsv_field

SR = 16000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    slicer_embed.create_model(seed=0).save_pretrained(d)
    return d


def _copy_model(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("config.json", "model.safetensors"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def _edit_config(folder: Path, edit) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    edit(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def _edit_weights(folder: Path, edit) -> None:
    from safetensors.torch import load_file, save_file
    tensors = load_file(str(folder / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(folder / "model.safetensors"))
    _edit_config(folder, lambda c: c["provenance"].pop("weights_sha256", None))


# -- broken and absurd models ------------------------------------------------------------------

@pytest.mark.parametrize("section", ["normalization", "frontend", "architecture", "inference"])
def test_a_config_missing_a_section_is_refused(model_dir, tmp_path, section):
    m = _copy_model(model_dir, tmp_path / "m")
    _edit_config(m, lambda c: c.pop(section))
    with pytest.raises(ConfigError, match=f"config.json.*{section}"):
        slicer_embed.load(m)


@pytest.mark.parametrize("tensor,index,value,match", [
    ("encoder.fc.3.weight", (0, 0), float("nan"), r"model.safetensors.*NaN or Inf.*encoder\.fc\.3\.weight"),
    ("encoder.fc.3.weight", (0, 0), float("inf"), r"model.safetensors.*NaN or Inf.*encoder\.fc\.3\.weight"),
    ("encoder.features_2.1.running_var", (3,), -1.0, r"BatchNorm variances.*features_2\.1\.running_var"),
])
def test_weights_that_can_only_give_wrong_embeddings_are_refused(model_dir, tmp_path, tensor, index, value, match):
    m = _copy_model(model_dir, tmp_path / "m")

    def poison(t):
        t[tensor][index] = value
    _edit_weights(m, poison)
    with pytest.raises(WeightsError, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slicer_embed.load(m)


def test_a_config_without_a_weights_digest_loads_with_a_warning(model_dir, tmp_path):
    m = _copy_model(model_dir, tmp_path / "m")
    _edit_config(m, lambda c: c["provenance"].pop("weights_sha256"))
    with pytest.warns(UserWarning, match="no provenance.weights_sha256"):
        slicer_embed.load(m)


@pytest.mark.parametrize("section,key,value,field", [
    ("architecture", "conv_channels", 10**9, "conv_channels"),
    ("architecture", "hidden_dim", 10**9, "hidden_dim"),
    ("architecture", "embedding_dim", 10**9, "embedding_dim"),
    ("architecture", "conv_channels", 60000, "architecture"),  # in range alone, too big as a model
    ("frontend", "n_fft", 10**9, "n_fft"),
    ("frontend", "hop_length", 10**9, "hop_length"),
    ("frontend", "sample_rate", 10**12, "sample_rate"),
    ("inference", "window_frames", 10**9, "window_frames"),
])
def test_absurd_sizes_give_one_clear_error_at_load(model_dir, tmp_path, section, key, value, field):
    m = _copy_model(model_dir, tmp_path / "m")
    _edit_config(m, lambda c: c[section].__setitem__(key, value))
    with pytest.raises(ConfigError, match=field):
        slicer_embed.load(m)


@pytest.mark.parametrize("payload", [
    "[" * 100_000 + "]" * 100_000,  # RecursionError inside json
    '{"schema_version": ' + "9" * 5000 + "}",  # int longer than Python's digit limit
    b"\xff\xfe\x00binary\x00config",  # not UTF-8
    " " * (2 << 20),  # far larger than any config
])
def test_unparseable_configs_name_the_file(model_dir, tmp_path, payload):
    m = _copy_model(model_dir, tmp_path / "m")
    (m / "config.json").write_bytes(payload if isinstance(payload, bytes) else payload.encode())
    with pytest.raises(ConfigError, match="config.json"):
        slicer_embed.load(m)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["frontend", "architecture", "normalization", "inference",
                                        "provenance", "schema_version", "model_type", "x"]), json_values))
def test_config_loader_raises_only_config_errors(data):
    try:
        ModelConfig.from_dict(data)
    except ConfigError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["frontend", "architecture", "normalization", "inference"]),
       st.sampled_from(["sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "f_min", "f_max",
                        "conv_channels", "n_blocks", "hidden_dim", "embedding_dim", "dropout", "mean", "std",
                        "window_frames"]),
       st.one_of(st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True)))
def test_a_changed_field_is_valid_or_a_config_error(section, key, value):
    d = ModelConfig().to_dict()
    if key not in d[section]:
        return
    d[section][key] = value
    try:
        cfg = ModelConfig.from_dict(d)
    except ConfigError:
        return
    cfg.validate()  # anything accepted builds within the memory bounds
    assert cfg.window_samples <= 1 << 24


# -- inputs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000, 96000, 10**9])
def test_one_sample_embeds_finitely_at_every_rate(sr):
    model = slicer_embed.create_model(seed=0)
    e = model.embed(np.array([0.25], np.float32), sr)
    f = model.embed_frames(np.full(1000, 0.1, np.float32), sr)
    assert e.shape == (2048,) and np.isfinite(e).all()
    assert f.embeddings.shape[0] >= 1 and np.isfinite(f.embeddings).all()


@pytest.mark.parametrize("sr", [8000, 22050, 48000, 96000])
def test_one_sample_files_embed_at_every_rate(tmp_path, sr):
    p = tmp_path / f"one_{sr}.wav"
    sf.write(p, np.array([0.3], np.float32), sr)
    out = slicer_embed.create_model(seed=0).embed_files([p])
    assert out.shape == (1, 2048) and np.isfinite(out).all()


@pytest.mark.parametrize("peak", [1e30, float(np.finfo(np.float32).max), 2e6])
def test_absurd_amplitudes_are_refused(peak):
    x = np.zeros(SR, np.float32)
    x[5] = peak
    with pytest.raises(ValueError, match="peaks at"):
        slicer_embed.create_model(seed=0).embed(x, SR)


def test_flat_lists_and_bytes():
    model = slicer_embed.create_model(seed=0)
    flat = [0.1, -0.2, 0.05] * 100
    assert np.allclose(model.embed(flat, SR), model.embed(np.asarray(flat, np.float32), SR))
    with pytest.raises(TypeError, match="bytes"):
        model.embed(b"RIFF....", SR)
    with pytest.raises(ValueError, match="flat list of integers"):
        model.embed([0, 1000, -2000] * 100, SR)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=0, max_size=400),
       st.sampled_from([8000, 16000, 44100, 48000]))
def test_embed_is_finite_or_a_clear_error(values, sr):
    x = np.asarray(values, np.float32)
    model = _shared_model()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = model.embed(x, sr)
    except ValueError as err:
        assert "audio" in str(err)
        return
    assert e.shape == (2048,) and np.isfinite(e).all()


_MODEL = []


def _shared_model():
    if not _MODEL:
        _MODEL.append(slicer_embed.create_model(seed=0))
    return _MODEL[0]


def test_check_clip_names_the_input():
    with pytest.raises(ValueError, match="clip7 contains 1 NaN"):
        audio_mod.check_clip(np.array([0.0, np.nan], np.float32), "clip7")
    with pytest.raises(ValueError, match="clip7 is empty"):
        audio_mod.check_clip(np.zeros(0, np.float32), "clip7")


# -- file names, errors.tsv --------------------------------------------------------------------

def test_path_text_helpers():
    weird = os.fsdecode(b"caf\xe9.wav")
    assert display(weird) == "caf\\xe9.wav"
    assert tsv_field("a\tb\nc\\d") == "a\\tb\\nc\\\\d"
    assert display(b"ok.wav") == "ok.wav"


def _extract(*args, env=None):
    return subprocess.run([sys.executable, "-m", "slicer_embed", "extract", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture()
def hostile_names(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    tone = (0.1 * np.sin(np.arange(SR) / 5)).astype(np.float32)
    sf.write(src / "good.wav", tone, SR)
    raw = os.fsencode(src)
    sf.write(raw + b"/caf\xe9.wav", tone, SR)  # not valid UTF-8
    sf.write(raw + b"/tab\tand\nnewline.wav", tone, SR)
    (Path(os.fsdecode(raw + b"/broken\xff.wav"))).write_bytes(b"RIFF not really")
    return src


@pytest.mark.parametrize("fmt", ["npy", "npz", "parquet"])
def test_undecodable_and_odd_file_names_do_not_stop_extract(hostile_names, tmp_path, fmt, model_dir):
    out = tmp_path / f"out.{fmt}"
    done = _extract(hostile_names, out, "--model", model_dir)
    assert done.returncode == 1, done.stderr  # one real failure (broken\xff.wav), listed
    tsv = writers.errors_path(out).read_text(encoding="utf-8").splitlines()
    assert tsv[0] == "path\treason" and len(tsv) == 2
    assert tsv[1].startswith("broken\\\\xff.wav\t") and tsv[1].count("\t") == 1
    if fmt == "npy":
        side = json.loads(writers.sidecar_path(out).read_text(encoding="utf-8"))
        assert sorted(side["paths"]) == sorted(["caf\\xe9.wav", "good.wav", "tab\tand\nnewline.wav"])
        assert side["rows"] == np.load(out).shape[0] == 3


# -- the output commit protocol ------------------------------------------------------------------

def test_sidecar_records_rows_and_array_digest(hostile_names, tmp_path, model_dir):
    from slicer_embed.hub import file_sha256
    out = tmp_path / "o.npy"
    _extract(hostile_names, out, "--model", model_dir)
    side = json.loads(writers.sidecar_path(out).read_text())
    assert side["array_sha256"] == file_sha256(out) and side["rows"] == len(np.load(out))


@pytest.mark.parametrize("die_at", [1, 2])
def test_a_crash_inside_the_commit_never_pairs_old_and_new(tmp_path, monkeypatch, die_at):
    """Old output: 2 rows + sidecar. The new commit (3 rows) dies at the first or second rename:
    afterwards the sidecar on disk, if any, describes the array on disk."""
    out = tmp_path / "o.npy"
    np.save(out, np.zeros((2, 4), np.float32))
    writers.sidecar_path(out).write_text(json.dumps({"paths": ["a", "b"], "rows": 2}))
    real = os.replace
    calls = []

    def flaky(a, b):
        calls.append(b)
        if len(calls) == die_at:
            raise KeyboardInterrupt("killed")
        return real(a, b)
    monkeypatch.setattr(writers.os, "replace", flaky)
    with pytest.raises(KeyboardInterrupt):
        writers._commit_npy(np.ones((3, 4), np.float32), out, {"paths": ["a", "b", "c"]})
    side = writers.sidecar_path(out)
    if side.exists():
        assert json.loads(side.read_text())["rows"] == len(np.load(out))


# -- concurrent runs -------------------------------------------------------------------------------

def test_a_second_extract_on_a_locked_output_is_refused(hostile_names, tmp_path, model_dir):
    out = tmp_path / "o.npy"
    with OutputLock(writers.lock_path(out), str(out)):
        done = _extract(hostile_names, out, "--model", model_dir)
    assert done.returncode == 2
    assert f"another process is writing {out} (pid {os.getpid()})" in done.stderr
    assert not out.exists()
    again = _extract(hostile_names, out, "--model", model_dir)  # lock released: runs
    assert again.returncode == 1 and out.exists() and not writers.lock_path(out).exists()


def test_output_lock_reports_the_holder_and_frees_on_release(tmp_path):
    lock = OutputLock(tmp_path / "x.lock", "X")
    with lock:
        with pytest.raises(OutputLocked, match=rf"writing X \(pid {os.getpid()}\)"):
            OutputLock(tmp_path / "x.lock", "X").acquire()
    OutputLock(tmp_path / "x.lock", "X").acquire().release()


def test_a_filesystem_without_flock_runs_unlocked_with_a_warning(tmp_path, monkeypatch):
    import errno

    import slicer_embed.locking as locking

    def no_flock(fd, op):
        raise OSError(errno.ENOSYS, "Function not implemented")
    monkeypatch.setattr(locking.fcntl, "flock", no_flock)
    with pytest.warns(RuntimeWarning, match="cannot lock"):
        OutputLock(tmp_path / "z.lock", "Z").acquire().release()


def test_a_lock_file_unlinked_by_its_releasing_holder_is_not_trusted(tmp_path, monkeypatch):
    """B opened the lock file while A held it; A unlinks it and unlocks; B's flock then succeeds on
    a file no longer at the path: B must retry on the path's current file, or C could lock it too."""
    import slicer_embed.locking as locking

    a = OutputLock(tmp_path / "r.lock", "R").acquire()
    real = locking.fcntl.flock
    calls = []

    def racing(fd, op):
        calls.append(op)
        if len(calls) == 1:
            a.release()  # unlinks the file B has open, then unlocks
        return real(fd, op)
    monkeypatch.setattr(locking.fcntl, "flock", racing)
    b = OutputLock(tmp_path / "r.lock", "R").acquire()
    monkeypatch.setattr(locking.fcntl, "flock", real)
    assert len(calls) >= 2  # retried on the fresh file
    with pytest.raises(OutputLocked):
        OutputLock(tmp_path / "r.lock", "R").acquire()  # C is refused: B holds the file at the path
    b.release()


def test_a_lock_dies_with_its_holder(tmp_path):
    code = ("import sys, time; from slicer_embed.locking import OutputLock; "
            f"OutputLock({str(tmp_path / 'y.lock')!r}, 'Y').acquire(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(OutputLocked, match=f"pid {proc.pid}"):
        OutputLock(tmp_path / "y.lock", "Y").acquire()
    proc.kill()
    proc.wait()
    OutputLock(tmp_path / "y.lock", "Y").acquire().release()  # kill -9 released it


# -- training run folders --------------------------------------------------------------------------

def test_train_refuses_a_finished_run_folder_without_resume_or_overwrite(tmp_path):
    from slicer_embed.training.cli_train import main
    from train_audio import make_corpus
    data = make_corpus(tmp_path / "data", n=8)
    out = tmp_path / "run"
    base = ["--data", str(data), "--out", str(out), "--preset", "smoke", "--progress", "false", "--device", "cpu",
            "--batch-size", "4", "--num-workers", "0"]
    assert main([*base, "--max-steps", "4"]) == 0
    before = (out / "model" / "model.safetensors").read_bytes()
    assert main([*base, "--max-steps", "2"]) == 2  # refused: nothing pruned, nothing exported
    assert (out / "model" / "model.safetensors").read_bytes() == before
    assert main([*base, "--max-steps", "2", "--overwrite"]) == 0
    started = tmp_path / "failed_start"  # a run whose start failed leaves only train_config.json
    assert main(["--data", str(tmp_path / "nowhere"), "--out", str(started), *base[4:], "--max-steps", "2"]) == 2
    assert main(["--data", str(data), "--out", str(started), *base[4:], "--max-steps", "2"]) == 0
    steps = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    assert steps == 2 and (out / "model" / "model.safetensors").read_bytes() != before
    with OutputLock(out / ".lock", "run"):
        assert main([*base, "--max-steps", "2", "--resume"]) == 2


# -- a generated hostile corpus ---------------------------------------------------------------

def _hostile_corpus(root: Path) -> dict[str, str | None]:
    """~270 files: every common rate, depth, channel count and length, plus broken ones.
    Returns name -> None (must embed) or a substring of the reason it must be reported with."""
    rng = np.random.default_rng(0)
    expect: dict[str, str | None] = {}
    for sr in (8000, 11025, 16000, 22050, 44100, 48000, 96000):
        for subtype in ("PCM_U8", "PCM_16", "PCM_24", "FLOAT"):
            for ch in (1, 2, 6):
                for n in (1, 100, sr):
                    name = f"ok/{sr}_{subtype}_{ch}ch_{n}.wav"
                    x = (0.5 * rng.uniform(-1, 1, (n, ch))).astype(np.float32)
                    (root / name).parent.mkdir(parents=True, exist_ok=True)
                    sf.write(root / name, x, sr, subtype=subtype)
                    expect[name] = None
    sf.write(root / "ok/speech.flac", (0.1 * rng.standard_normal(SR)).astype(np.float32), SR)
    expect["ok/speech.flac"] = None
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.wav").write_bytes(b"")
    expect["bad/empty.wav"] = "empty"
    sf.write(bad / "zero.wav", np.zeros((0, 1), np.float32), SR)
    expect["bad/zero.wav"] = "no audio samples"
    (bad / "text.wav").write_text("this is not audio\n" * 20)
    expect["bad/text.wav"] = "cannot decode"
    sf.write(bad / "truncated.wav", np.zeros(SR, np.float32), SR, subtype="PCM_16")
    data = (bad / "truncated.wav").read_bytes()
    (bad / "truncated.wav").write_bytes(data[: len(data) // 2])
    expect["bad/truncated.wav"] = "truncated WAV"
    nan = np.zeros(SR, np.float32)
    nan[10] = np.nan
    sf.write(bad / "nan.wav", nan, SR, subtype="FLOAT")
    expect["bad/nan.wav"] = "NaN"
    huge = np.zeros(SR, np.float32)
    huge[3] = 1e30
    sf.write(bad / "huge.wav", huge, SR, subtype="FLOAT")
    expect["bad/huge.wav"] = "peak"
    sf.write(bad / "flac_cut.flac", (0.1 * rng.standard_normal(SR * 2)).astype(np.float32), SR)
    cut = (bad / "flac_cut.flac").read_bytes()
    (bad / "flac_cut.flac").write_bytes(cut[: len(cut) // 3])
    expect["bad/flac_cut.flac"] = ""  # reported (libsndfile's wording varies) or embedded short: see below
    os.symlink("loop_b.wav", bad / "loop_a.wav")
    os.symlink("loop_a.wav", bad / "loop_b.wav")
    expect["bad/loop_a.wav"] = expect["bad/loop_b.wav"] = "symbolic links"
    os.mkfifo(bad / "fifo.wav")
    expect["bad/fifo.wav"] = "not a regular file (a FIFO)"  # never opened: it would wait for a writer
    sf.write(bad / "rate_1hz.wav", np.full(24_000, 0.1, np.float32), 1)  # 6.7 h at 16 kHz if upsampled
    expect["bad/rate_1hz.wav"] = "1 Hz is below 1000 Hz"
    sf.write(bad / "rate_999hz.wav", np.full(999, 0.1, np.float32), 999)
    expect["bad/rate_999hz.wav"] = "999 Hz is below 1000 Hz"
    sf.write(root / "ok/rate_1000hz.wav", np.full(1000, 0.1, np.float32), 1000)
    expect["ok/rate_1000hz.wav"] = None
    (bad / "text.flac").write_text("not audio either\n" * 20)
    expect["bad/text.flac"] = "cannot decode as audio (Format not recognised.)"  # no b'...' in reasons
    return expect


def test_hostile_corpus_every_file_gets_its_expected_outcome(tmp_path, model_dir):
    root = tmp_path / "corpus"
    root.mkdir()
    expect = _hostile_corpus(root)
    out = tmp_path / "out.npz"
    done = _extract(root, out, "--model", model_dir, "-q")
    assert done.returncode == 1, done.stderr[-2000:]
    failed = {}
    for line in writers.errors_path(out).read_text(encoding="utf-8").splitlines()[1:]:
        path, reason = line.split("\t")
        failed[path] = reason
    with np.load(out) as z:
        embedded = set(z["paths"].tolist())
        assert np.isfinite(z["embeddings"]).all()
        assert len(z["embeddings"]) == len(embedded)
    for name, want in expect.items():
        if want is None:
            assert name in embedded, (name, failed.get(name))
        elif want:
            assert name in failed and want in failed[name], (name, failed.get(name))
        else:
            assert (name in failed) != (name in embedded), name
    assert not any("b'" in reason for reason in failed.values())  # names are text, not Python bytes


def test_kill9_of_extract_leaves_no_worker_tracebacks_or_orphans(tmp_path, model_dir):
    """Issue 14.8: after kill -9 of the main process, its decoding workers must end quietly."""
    import signal
    import time
    src = tmp_path / "long"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        sf.write(src / f"{i:02d}.flac", (0.1 * rng.standard_normal(44100 * 30)).astype(np.float32), 44100)
    out = tmp_path / "out.npy"
    log = open(tmp_path / "stderr.txt", "w")
    proc = subprocess.Popen([sys.executable, "-m", "slicer_embed", "extract", str(src), str(out), "--model",
                             str(model_dir), "--num-workers", "2"], stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and "1/12" not in (tmp_path / "stderr.txt").read_text(errors="replace"):
        time.sleep(0.2)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "the extract process had no decoding workers to test"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(8)
    log.close()
    text = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert "Traceback" not in text and "ConnectionResetError" not in text, text[-2000:]
    alive = [c for c in children if Path(f"/proc/{c}").exists()
             and "zombie" not in Path(f"/proc/{c}/status").read_text().lower()]
    assert not alive, f"decoding workers outlived the killed main process: {alive}"
