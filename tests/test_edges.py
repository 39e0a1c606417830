"""Issue 24, "no silent loss at the edges": each test pins one case of the contract in docs/extract.md
("Edges"): output-name collisions, sidecar names, resume across sources, the lock after kill -9, full and
read-only output filesystems, absurd sample-rate ratios, and the small ones."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from slicer_embed.extraction import writers
from slicer_embed.locking import OutputLock
from test_extract_data import make_model, tone

SR = 16000


def _extract(*args):
    """``slicer-embed extract ARGS`` in this process (decoding inline): its exit status and stderr."""
    import contextlib
    import io
    import types

    from slicer_embed.commands.extract import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([*map(str, args), "--num-workers", "0"])
    return types.SimpleNamespace(returncode=code, stderr=err.getvalue())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("edges"))


# -- 4. the output lock dies with its holder, not with its decoding workers ---------------------------

def test_a_forked_child_does_not_hold_the_output_lock(tmp_path):
    """The root cause: a fork (DataLoader workers) shared the lock's open file description, so the
    flock lived until the last worker exited, not until its holder died. Children must close it."""
    lock = OutputLock(tmp_path / "f.lock", "F").acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child lingers like an orphaned decoding worker
        try:
            os.close(r)
            os.write(w, b"up")
            time.sleep(30)
        finally:
            os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 2) == b"up"
        os.close(lock._fd)  # the holder dies: the kernel closes its descriptor, nobody calls LOCK_UN
        lock._fd = None
        OutputLock(tmp_path / "f.lock", "F").acquire().release()  # free at once, the child still alive
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)


def test_resume_right_after_kill9_of_extract_is_not_refused(tmp_path, model_dir):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        sf.write(src / f"{i}.flac", tone(40.0, 44100, 200.0 + 50 * i, seed=i), 44100)
    out = tmp_path / "out.npy"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "slicer_embed", "extract", str(src), str(out), "--model",
                                 str(model_dir), "--num-workers", "2", "--checkpoint-seconds", "0"],
                                stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "OMP_NUM_THREADS": "1"})
        deadline = time.time() + 120
        while time.time() < deadline and not list((tmp_path / "out.npy.partial").glob("shard-*.npz")):
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert workers, "the extract process had no decoding workers to test"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: its workers become orphans
        proc.wait()
    orphans = [w for w in workers if Path(f"/proc/{w}").exists()]
    assert orphans, "the workers were gone before the lock could be tried"
    OutputLock(writers.lock_path(out), str(out)).acquire().release()  # free now, orphans or not
    again = _extract(src, out, "--model", model_dir, "--resume", "-q")
    assert "another process" not in again.stderr, again.stderr
    assert again.returncode == 0, again.stderr
    assert np.load(out).shape == (6, 2048)


# -- 2. each .npy output has a sidecar of its own ---------------------------------------------------

def test_out_npy_and_out_NPY_do_not_share_a_sidecar(tmp_path, model_dir):
    from slicer_embed.hub import file_sha256
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "a.wav", tone(1.0, SR), SR)
    sf.write(src / "b.wav", tone(2.0, SR, 300.0), SR)
    lower, upper = tmp_path / "out.npy", tmp_path / "out.NPY"
    assert _extract(src / "a.wav", lower, "--model", model_dir, "-q").returncode == 0
    assert _extract(src, upper, "--model", model_dir, "-q").returncode == 0
    for arr in (lower, upper):
        side = json.loads(writers.sidecar_path(arr).read_text())
        assert side["array_sha256"] == file_sha256(arr) and side["rows"] == len(np.load(arr))
    assert writers.sidecar_path(lower) != writers.sidecar_path(upper)


_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1,
                 max_size=12).filter(lambda s: s not in (".", ".."))


@settings(max_examples=300, deadline=None)
@given(_names, _names)
@example("out.npy", "out.NPY")
@example("out.npy", "out.bin")
@example("out.npy", "out")
def test_sidecar_names_are_as_distinct_as_the_outputs_on_any_filesystem(a, b):
    """Two outputs share a sidecar exactly when they are the same file: on a case-sensitive
    filesystem when their names are equal, on a case-insensitive one when they are equal ignoring
    case; and a sidecar is never another .npy output (those cannot end in .json)."""
    sa, sb = writers.sidecar_path(Path(a)).name, writers.sidecar_path(Path(b)).name
    assert (sa == sb) == (a == b)
    assert (sa.casefold() == sb.casefold()) == (a.casefold() == b.casefold())
    assert sa.lower().endswith(".json")


@pytest.mark.parametrize("fmt", ["npy", "npz", "parquet", "dir"])
def test_an_output_named_like_a_sidecar_is_refused(fmt):
    with pytest.raises(writers.OutputError, match="sidecar"):
        writers.infer_format("x.npy.json", fmt, "clip")


def test_a_legacy_out_json_of_ours_is_removed_when_out_npy_is_replaced(tmp_path):
    out = tmp_path / "o.npy"
    legacy = tmp_path / "o.json"
    np.save(out, np.zeros((1, 4), np.float32))  # an earlier build's pair: o.npy + o.json
    legacy.write_text(json.dumps({"paths": ["a"], "metadata": {"slicer_embed_version": "0.1"}, "rows": 1}))
    writers._commit_npy(np.ones((3, 4), np.float32), out, {"paths": ["a", "b", "c"], "metadata": {}})
    assert not legacy.exists() and json.loads(writers.sidecar_path(out).read_text())["rows"] == 3
    legacy.write_text('{"not": "ours"}')  # someone else's file of that name is left alone
    writers._commit_npy(np.ones((2, 4), np.float32), out, {"paths": ["a", "b"], "metadata": {}})
    assert legacy.read_text() == '{"not": "ours"}'
    other = json.dumps({"paths": ["x"] * 5, "metadata": {"slicer_embed_version": "0.1"}, "rows": 5})
    legacy.write_text(other)  # ours, but describing another array (o.NPY's, 5 rows): left alone
    writers._commit_npy(np.ones((2, 4), np.float32), out, {"paths": ["a", "b"], "metadata": {}})
    assert legacy.read_text() == other


# -- 1. output names derived from inputs never collide -------------------------------------------------

COLLIDING = ["a:b.flac", "a_b.flac", "A.wav", "a.wav", "caf\u00e9.wav", "cafe\u0301.wav", "x.wav", "x.wav.npz/y.wav"]


@pytest.fixture(scope="module")
def colliding(tmp_path_factory):
    """Inputs whose derived names clash: ':' mapped to '_', case-only and Unicode-normalisation-only
    differences (one file on macOS/Windows filesystems), a file name that is another input's folder."""
    src = tmp_path_factory.mktemp("colliding") / "src"
    for i, rel in enumerate(COLLIDING):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(src / rel, tone(1.0 + 0.1 * i, SR, 200.0 + 40 * i, seed=i), SR, format="FLAC" if rel.endswith(
            ".flac") else "WAV")
    return src


def _fold(p: Path) -> str:
    import unicodedata
    return unicodedata.normalize("NFC", str(p)).casefold()


@pytest.mark.parametrize("fmt", ["npy", "npz", "parquet", "dir"])
def test_colliding_input_names_lose_nothing_in_any_format(colliding, tmp_path, model_dir, fmt):
    import slicer_embed
    out = tmp_path / ("out" if fmt == "dir" else f"out.{fmt}")
    done = _extract(colliding, out, "--model", model_dir, "--format", fmt, "-q")
    assert done.returncode == 0, done.stderr
    model = slicer_embed.load(model_dir)
    want = {rel: model.embed_file(colliding / rel) for rel in COLLIDING}
    got: dict[str, np.ndarray] = {}
    if fmt == "dir":
        files = sorted(f for f in out.rglob("*.npz") if f.is_file())
        assert len(files) == len(COLLIDING)
        assert len({_fold(f.relative_to(out)) for f in files}) == len(files)  # distinct ignoring case/NFC too
        for f in files:
            with np.load(f) as z:
                got[str(z["path"])] = z["embedding"]
    elif fmt == "npy":
        paths = json.loads(writers.sidecar_path(out).read_text())["paths"]
        got = dict(zip(paths, np.load(out)))
    elif fmt == "npz":
        with np.load(out) as z:
            got = dict(zip(z["paths"].tolist(), z["embeddings"]))
    else:
        import pyarrow.parquet as pq
        t = pq.read_table(out)
        got = {p: np.asarray(e, np.float32) for p, e in zip(t["path"].to_pylist(), t["embedding"].to_pylist())}
    assert sorted(got) == sorted(COLLIDING)
    for rel in COLLIDING:
        np.testing.assert_allclose(got[rel], want[rel], rtol=1e-4, atol=1e-4)


@settings(max_examples=200, deadline=None)
@given(st.lists(_names.map(lambda s: s.replace("\\", "")).filter(bool), min_size=1, max_size=8, unique=True))
@example(["a:b.flac", "a_b.flac"])
@example(["A.wav", "a.wav", "x.wav", "x.wav.npz/y.wav"])
def test_dir_targets_are_distinct_files_on_any_filesystem(rels):
    out = Path("/out")
    targets = writers.dir_targets(out, rels)
    folded = [_fold(t) for t in targets]
    assert len(set(folded)) == len(rels)
    folders = {_fold(p) for t in targets for p in t.parents}
    assert not folders & set(folded)  # no file where another input needs a folder
    for t in targets:
        assert out in t.parents and t.name.endswith(".npz")


# -- 3. --resume checks a finished output against the new invocation ----------------------------------

@pytest.fixture(scope="module")
def two_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    g0, everything = root / "g0", root / "all"
    g0.mkdir()
    everything.mkdir()
    for i in range(4):
        x = tone(0.5 + 0.1 * i, SR, 250.0 + 30 * i, seed=i)
        if i < 2:
            sf.write(g0 / f"{i}.wav", x, SR)
        sf.write(everything / f"{i}.wav", x, SR)
    return g0, everything


@pytest.mark.parametrize("fmt", ["npy", "npz", "parquet"])
def test_resume_of_a_finished_output_from_another_source_is_an_error(two_sources, tmp_path, model_dir, fmt):
    g0, everything = two_sources
    out = tmp_path / f"rs.{fmt}"
    assert _extract(g0, out, "--model", model_dir, "-q").returncode == 0
    before = out.read_bytes()
    again = _extract(everything, out, "--model", model_dir, "--resume", "-q")
    assert again.returncode == 2, again.stderr
    assert "already complete" not in again.stderr
    assert str(g0) in again.stderr and str(everything) in again.stderr and "inputs" in again.stderr
    assert out.read_bytes() == before
    same = _extract(g0, out, "--model", model_dir, "--resume", "-q")  # the same run: nothing to do
    assert same.returncode == 0 and "already complete" in same.stderr
    other = _extract(g0, out, "--model", model_dir, "--resume", "--pooling", "mean", "-q")
    assert other.returncode == 2 and "pooling" in other.stderr
    dtype = _extract(g0, out, "--model", model_dir, "--resume", "--storage-dtype", "float16", "-q")
    assert dtype.returncode == 2 and "storage_dtype" in dtype.stderr


def test_resume_after_an_overwrite_killed_before_its_partial_folder_is_an_error(two_sources, tmp_path, model_dir):
    """`extract g0 rs.npy`, then `extract all rs.npy --overwrite` killed while the model loads (no
    partial folder yet), then `--resume`: the old output is from g0, not from all."""
    g0, everything = two_sources
    out = tmp_path / "rs.npy"
    assert _extract(g0, out, "--model", model_dir, "-q").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "slicer_embed", "extract", str(everything), str(out),
                             "--model", str(model_dir), "--overwrite"], stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # still importing torch: long before OUTPUT.partial/ exists
    proc.kill()
    proc.wait()
    assert not (tmp_path / "rs.npy.partial").exists()
    again = _extract(everything, out, "--model", model_dir, "--resume", "-q")
    assert again.returncode == 2 and str(g0) in again.stderr, again.stderr
    assert np.load(out).shape[0] == 2


def test_resume_of_an_output_without_a_record_of_its_inputs_is_an_error(two_sources, tmp_path, model_dir):
    g0, _ = two_sources
    out = tmp_path / "old.npz"
    np.savez(out, embeddings=np.zeros((2, 2048), np.float32), paths=np.array(["0.wav", "1.wav"]),
             metadata=np.array("{}"))
    again = _extract(g0, out, "--model", model_dir, "--resume", "-q")
    assert again.returncode == 2 and "--overwrite" in again.stderr, again.stderr


def test_resume_of_a_partial_from_another_source_names_both(two_sources, tmp_path, model_dir):
    from slicer_embed.extraction import store
    g0, everything = two_sources
    out = tmp_path / "p.npz"
    partial = tmp_path / "p.npz.partial"
    partial.mkdir()
    store.prepare(partial, {"inputs_sha256": "x", "n_inputs": 2}, resume=False, run={"source": str(g0)})
    again = _extract(everything, out, "--model", model_dir, "--resume", "-q")
    assert again.returncode == 2 and str(g0) in again.stderr and str(everything) in again.stderr, again.stderr


def test_a_dir_output_never_keeps_a_file_made_for_another_input_or_model(two_sources, tmp_path, model_dir):
    g0, everything = two_sources
    out = tmp_path / "d"
    assert _extract(g0, out, "--model", model_dir, "--format", "dir", "-q").returncode == 0
    # adding audio to the source embeds only the new files (the documented use of a dir output)
    assert _extract(everything, out, "--model", model_dir, "--format", "dir", "-q").returncode == 0
    assert len(list(out.glob("*.npz"))) == 4
    other = _extract(everything, out, "--model", model_dir, "--format", "dir", "--pooling", "max", "-q")
    assert other.returncode == 2 and "pooling" in other.stderr and "0.wav.npz" in other.stderr, other.stderr
    with np.load(out / "0.wav.npz") as z:  # a file that holds another input's embedding
        members = {k: z[k] for k in z.files}
    members["path"] = np.array("3.wav")
    np.savez(out / "0.wav.npz", **members)
    moved = _extract(everything, out, "--model", model_dir, "--format", "dir", "-q")
    assert moved.returncode == 2 and "3.wav" in moved.stderr, moved.stderr
    members["path"] = np.array("0.wav")  # a file of an earlier build: no fingerprint, same model: kept
    meta = json.loads(str(members["metadata"]))
    del meta["fingerprint"]
    members["metadata"] = np.array(json.dumps(meta))
    np.savez(out / "0.wav.npz", **members)
    assert _extract(everything, out, "--model", model_dir, "--format", "dir", "-q").returncode == 0
    older = _extract(everything, out, "--model", model_dir, "--format", "dir", "--pooling", "max", "-q")
    assert older.returncode == 2 and "pooling" in older.stderr
    assert _extract(everything, out, "--model", model_dir, "--format", "dir", "--overwrite", "-q").returncode == 0


# -- 5. read-only and full output filesystems -----------------------------------------------------------

@pytest.fixture(scope="module")
def small_src(tmp_path_factory):
    src = tmp_path_factory.mktemp("small") / "src"
    src.mkdir()
    for i in range(5):
        sf.write(src / f"{i}.wav", tone(0.5 + 0.2 * i, SR, 220.0 + 40 * i, seed=i), SR)
    return src


def _one_clean_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _no_temporaries(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert not left, left


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.ENOSPC, errno.EDQUOT])
def test_an_unwritable_output_folder_is_one_line_and_exit_2(small_src, tmp_path, model_dir, monkeypatch, code):
    import slicer_embed.locking as locking
    real = locking.os.open

    def refuses(path, *a, **k):
        if str(path).endswith(".lock"):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *a, **k)
    monkeypatch.setattr(locking.os, "open", refuses)
    out = tmp_path / "o" / "out.npy"
    done = _extract(small_src, out, "--model", model_dir, "-q")
    assert done.returncode == 2
    line = _one_clean_line(done.stderr)
    assert f"{out}.lock" in line and os.strerror(code) in line
    assert not (tmp_path / "o" / "out.npy.partial").exists()


def test_an_unwritable_partial_folder_is_one_line_and_exit_2(small_src, tmp_path, model_dir, monkeypatch):
    from slicer_embed.extraction import store
    real = store.atomic_write_text

    def denied(path, text):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    monkeypatch.setattr(store, "atomic_write_text", denied)
    out = tmp_path / "out.npz"
    done = _extract(small_src, out, "--model", model_dir, "-q")
    assert done.returncode == 2
    line = _one_clean_line(done.stderr)
    assert "out.npz.partial/meta.json" in line and "Permission denied" in line
    assert not (tmp_path / "out.npz.partial").exists()  # nothing half set up is left behind
    (tmp_path / "out.npz.partial").mkdir()  # and one left by a killed run holds no work: not in the way
    monkeypatch.setattr(store, "atomic_write_text", real)
    assert _extract(small_src, out, "--model", model_dir, "-q").returncode == 0  # a partial without meta: afresh


@pytest.fixture(scope="module")
def small_reference(small_src, model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.npz"
    assert _extract(small_src, out, "--model", model_dir, "-q").returncode == 0
    with np.load(out) as z:
        return dict(zip(z["paths"].tolist(), z["embeddings"]))


def _rows(out: Path, fmt: str) -> dict[str, np.ndarray]:
    if fmt == "npy":
        return dict(zip(json.loads(writers.sidecar_path(out).read_text())["paths"], np.load(out)))
    if fmt == "npz":
        with np.load(out) as z:
            return dict(zip(z["paths"].tolist(), z["embeddings"]))
    if fmt == "parquet":
        import pyarrow.parquet as pq
        t = pq.read_table(out)
        return {p: np.asarray(e, np.float32) for p, e in zip(t["path"].to_pylist(), t["embedding"].to_pylist())}
    rows = {}
    for f in out.glob("*.npz"):
        with np.load(f) as z:
            rows[str(z["path"])] = z["embedding"]
    return rows


def _same_rows(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-5)


def test_a_full_disk_while_saving_shards_keeps_what_is_saved_for_resume(small_src, small_reference, tmp_path,
                                                                        model_dir, monkeypatch):
    from slicer_embed.extraction import npyio
    real = npyio.write_npz
    calls = []

    def fills_up(f, members):  # the third shard meets a full disk halfway through
        calls.append(1)
        if len(calls) == 3:
            f.write(b"x" * 100)
            _enospc()
        return real(f, members)
    monkeypatch.setattr(npyio, "write_npz", fills_up)
    out = tmp_path / "out.npz"
    partial = tmp_path / "out.npz.partial"
    done = _extract(small_src, out, "--model", model_dir, "--checkpoint-seconds", "0", "-q")
    assert done.returncode == 2
    line = _one_clean_line(done.stderr)
    assert f"{partial}/shard-r0-" in line and "No space left on device" in line and "--resume" in line
    assert not out.exists() and len(list(partial.glob("shard-*.npz"))) == 2
    _no_temporaries(tmp_path)
    monkeypatch.setattr(npyio, "write_npz", real)
    again = _extract(small_src, out, "--model", model_dir, "--resume", "-q")
    assert again.returncode == 0, again.stderr
    _same_rows(_rows(out, "npz"), small_reference)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("fmt", ["npy", "npz", "parquet", "dir"])
def test_a_full_or_read_only_disk_at_the_end_leaves_no_output_and_resumes(small_src, small_reference, tmp_path,
                                                                         model_dir, monkeypatch, fmt, code):
    from slicer_embed.extraction import npyio

    def fails(*_a, **_k):
        raise OSError(code, os.strerror(code))
    out = tmp_path / ("out" if fmt == "dir" else f"out.{fmt}")
    if fmt == "dir":
        monkeypatch.setattr(writers, "save_npz", fails)
    else:
        monkeypatch.setattr(npyio.NpyRows, "write", fails)
    done = _extract(small_src, out, "--model", model_dir, "--format", fmt, "-q")
    assert done.returncode == 2
    line = _one_clean_line(done.stderr)
    assert str(out) in line and os.strerror(code) in line and "--resume" in line
    assert not list(out.glob("*.npz")) if fmt == "dir" else not out.exists()
    _no_temporaries(tmp_path)
    monkeypatch.undo()
    again = _extract(small_src, out, "--model", model_dir, "--format", fmt, "--resume", "-q")
    assert again.returncode == 0, again.stderr
    _same_rows(_rows(out, fmt), small_reference)


def _can_mount_tmpfs() -> bool:
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(sys.platform != "linux" or not _can_mount_tmpfs(),
                    reason="needs unshare -m and mount (root in a container or user namespaces)")
def test_a_real_full_and_read_only_tmpfs(small_src, small_reference, tmp_path, model_dir):
    """A 40 KiB tmpfs (in a private mount namespace): the run fills it, says so in one line and exits
    2; grown to 16 MiB, --resume finishes it. Remounted read-only: one line, exit 2."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cmd = [sys.executable, "-m", "slicer_embed", "extract", str(small_src), f"{mnt}/out.npz", "--model",
           str(model_dir), "--num-workers", "0", "--checkpoint-seconds", "0", "-q"]
    q = " ".join(f"'{c}'" for c in cmd)
    script = f"""
mount -t tmpfs -o size=40k tmpfs {mnt}
{q} 2> {tmp_path}/full.err; echo $? > {tmp_path}/full.rc
mount -o remount,size=16m {mnt}
{q} --resume 2> {tmp_path}/resume.err; echo $? > {tmp_path}/resume.rc
cp {mnt}/out.npz {tmp_path}/out.npz
mount -o remount,ro {mnt}
{q} --overwrite 2> {tmp_path}/ro.err; echo $? > {tmp_path}/ro.rc
"""
    subprocess.run(["unshare", "-m", "sh", "-c", script], check=True, timeout=600,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    rc = {k: int((tmp_path / f"{k}.rc").read_text()) for k in ("full", "resume", "ro")}
    err = {k: (tmp_path / f"{k}.err").read_text() for k in ("full", "resume", "ro")}
    assert rc["full"] == 2 and "No space left on device" in _one_clean_line(err["full"]), err["full"]
    assert rc["resume"] == 0, err["resume"]
    _same_rows(_rows(tmp_path / "out.npz", "npz"), small_reference)
    assert rc["ro"] == 2 and "Read-only file system" in _one_clean_line(err["ro"]), err["ro"]


# -- 6. absurd upsampling ratios -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rnd_model():
    import slicer_embed
    return slicer_embed.create_model(seed=0)


@pytest.mark.parametrize("n", [240, 24_000])
@pytest.mark.parametrize("rate", [1, 999])
def test_rates_below_a_16th_of_the_models_are_refused_at_once(rnd_model, n, rate):
    x = tone(n / 16000, SR)[:n]
    t = time.monotonic()
    with pytest.raises(ValueError, match=rf"{rate} Hz.*1000 Hz"):
        rnd_model.embed(x, rate)
    with pytest.raises(ValueError, match=rf"{rate} Hz"):
        rnd_model.embed_frames(x, rate)
    with pytest.raises(ValueError, match=rf"{rate} Hz"):
        rnd_model.stream(sample_rate=rate)
    assert time.monotonic() - t < 1.0


def test_the_lowest_accepted_rate_embeds(rnd_model):
    e = rnd_model.embed(tone(1.0, 1000)[:1000], 1000)
    assert e.shape == (2048,) and np.isfinite(e).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=10**7), st.integers(min_value=1, max_value=400))
def test_any_rate_embeds_or_is_refused_for_its_ratio(rate, n):
    model = _small_model()
    x = np.full(n, 0.1, np.float32)
    try:
        e = model.embed(x, rate)
    except ValueError as err:
        assert rate * 16 < model.sample_rate and "Hz" in str(err)
        return
    assert rate * 16 >= model.sample_rate and np.isfinite(e).all()


_SMALL: list = []


def _small_model():
    if not _SMALL:
        import slicer_embed
        _SMALL.append(slicer_embed.create_model(seed=0))
    return _SMALL[0]


def test_a_file_at_an_absurd_rate_is_a_reported_failure(tmp_path, model_dir):
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "one_hz.wav", np.full(24_000, 0.1, np.float32), 1)
    sf.write(src / "ok.wav", tone(1.0, SR), SR)
    out = tmp_path / "o.npz"
    done = _extract(src, out, "--model", model_dir, "-q")
    assert done.returncode == 1
    tsv = writers.errors_path(out).read_text().splitlines()
    assert len(tsv) == 2 and tsv[1].startswith("one_hz.wav\t") and "1 Hz" in tsv[1]


def test_stream_refuses_an_absurd_rate(tmp_path, model_dir):
    r = subprocess.run([sys.executable, "-m", "slicer_embed", "stream", "-", "--raw", "s16le", "--rate", "2",
                        "--model", str(model_dir)], input=b"\x00\x01" * 100, capture_output=True, timeout=120)
    assert r.returncode == 2 and b"2 Hz" in r.stderr and b"Traceback" not in r.stderr, r.stderr


# -- 8. the small ones -------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def _stubs(tmp_path: Path) -> dict:
    """PATH stubs: root, apt-get whose lock is held by another process, python3 that logs its pip calls."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "id").write_text("#!/bin/sh\necho 0\n")
    (bin_ / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (bin_ / "apt-get").write_text(f"#!/bin/sh\necho \"apt-get $*\" >> {tmp_path}/calls\n"
                                  "echo 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process "
                                  "4242 (apt-get)' >&2\nexit 100\n")
    (bin_ / "python3").write_text("#!/bin/sh\ncase \"$1\" in -c) echo 'the virtual environment /venv'; exit 0;; esac\n"
                                  f"echo \"python3 $*\" >> {tmp_path}/calls\n")
    for f in bin_.iterdir():
        f.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"}


def test_install_dev_says_what_goes_system_wide_and_survives_a_held_apt_lock(tmp_path):
    env = _stubs(tmp_path)
    r = subprocess.run(["bash", str(REPO / "scripts" / "install-dev.sh")], env=env, capture_output=True, text=True,
                       timeout=60)
    calls = (tmp_path / "calls").read_text().splitlines()
    plan = r.stdout.index("system-wide, with apt-get")
    assert plan < r.stdout.index("install-audio-tools: installing")  # said before apt runs
    assert "sox" in r.stdout[plan:plan + 200]
    assert "another apt or dpkg process holds the package lock" in r.stderr
    assert any(c.startswith("python3 -m pip install") and "-e .[dev]" in c for c in calls), calls
    assert r.returncode == 1 and "sudo bash scripts/install-audio-tools.sh" in r.stderr
    (tmp_path / "calls").unlink()
    r = subprocess.run(["bash", str(REPO / "scripts" / "install-dev.sh"), "--no-apt"], env=env, capture_output=True,
                       text=True, timeout=60)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert r.returncode == 0 and not any(c.startswith("apt-get") for c in calls) and "apt-get" not in r.stdout


def test_gitignore_ignores_the_readmes_venv(tmp_path):
    """The project's .gitignore alone (in a fresh repository: no info/exclude or global excludes)."""
    (tmp_path / ".gitignore").write_text((REPO / ".gitignore").read_text())
    git = ["git", "-c", "core.excludesFile=/dev/null"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    r = subprocess.run([*git, "check-ignore", "-q", ".venv/bin/python"], cwd=tmp_path)
    assert r.returncode == 0
    assert "python3 -m venv .venv" in (REPO / "README.md").read_text()


def test_stream_help_offers_only_the_formats_it_takes(capsys):
    from slicer_embed.commands import stream
    parser = stream.build_parser()
    fmt = next(a for a in parser._actions if "--format" in a.option_strings)
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out + (stream.__doc__ or "")
    import re
    named = set(re.findall(r"--format[ =]([\w-]+)", text))
    assert named and named <= set(fmt.choices), named


def test_skip_messages_name_files_as_text_and_special_files_never_block(tmp_path, model_dir):
    src = tmp_path / "src"
    src.mkdir()
    (src / "fake.wav").write_text("hello, this is not audio at all\n" * 5)
    os.mkfifo(src / "x.wav")  # opening it would wait for a writer forever
    os.symlink("loop_b.wav", src / "loop_a.wav")
    os.symlink("loop_a.wav", src / "loop_b.wav")
    sf.write(src / "ok.wav", tone(1.0, SR), SR)
    out = tmp_path / "o.npz"
    r = subprocess.run([sys.executable, "-m", "slicer_embed", "extract", str(src), str(out), "--model",
                        str(model_dir), "-q"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    reasons = dict(line.split("\t") for line in writers.errors_path(out).read_text().splitlines()[1:])
    assert "b'" not in r.stderr and not any("b'" in v for v in reasons.values()), r.stderr
    assert reasons["fake.wav"] == "cannot decode as audio (Format not recognised.)"
    assert reasons["x.wav"] == "not a regular file (a FIFO)"
    assert "symbolic links" in reasons["loop_a.wav"]
    fifo_source = _extract(src / "x.wav", tmp_path / "f.npz", "--model", model_dir, "-q")
    assert fifo_source.returncode == 2 and "not a regular file (a FIFO)" in fifo_source.stderr


def test_text_lists_keep_spaces_in_names(tmp_path, model_dir):
    from slicer_embed.extraction.sources import discover
    for name in ("  leading space.wav", "trailing space.wav ", "#hash.wav"):
        sf.write(tmp_path / name, tone(0.5, SR), SR, format="WAV")
    lst = tmp_path / "list.txt"
    lst.write_text("# a comment\n  leading space.wav\n\ntrailing space.wav \n\\#hash.wav\n")
    entries = discover(str(lst))
    assert [e.rel for e in entries] == ["  leading space.wav", "trailing space.wav ", "#hash.wav"]
    done = _extract(lst, tmp_path / "o.npz", "--model", model_dir, "-q")
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "o.npz") as z:
        assert z["paths"].tolist() == ["  leading space.wav", "trailing space.wav ", "#hash.wav"]


def test_a_model_with_integer_weights_is_refused_for_its_dtype(tmp_path, model_dir):
    import shutil

    from safetensors.torch import load_file, save_file

    import slicer_embed
    from slicer_embed.hub import WeightsError
    m = tmp_path / "m"
    shutil.copytree(model_dir, m)
    tensors = load_file(str(m / "model.safetensors"))
    save_file({k: v.to(torch.int32) if v.is_floating_point() else v for k, v in tensors.items()},
              str(m / "model.safetensors"))
    cfg = json.loads((m / "config.json").read_text())
    cfg["provenance"].pop("weights_sha256", None)
    (m / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match=r"model.safetensors.*int32.*floating-point"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slicer_embed.load(m)


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_model_name_is_a_clear_error(name):
    import slicer_embed
    from slicer_embed.hub import ModelNotFoundError
    with pytest.raises(ModelNotFoundError, match="model name is empty"):
        slicer_embed.load(name)


def test_extract_with_an_empty_model_name(tmp_path):
    sf.write(tmp_path / "a.wav", tone(0.5, SR), SR)
    done = _extract(tmp_path / "a.wav", tmp_path / "o.npz", "--model", "")
    assert done.returncode == 2 and "model name is empty" in done.stderr, done.stderr
    assert "config.json" not in done.stderr


def test_info_prints_the_provenance_one_field_per_line(capsys):
    from slicer_embed.commands import info
    assert info.main([]) == 0
    out = capsys.readouterr().out
    facts = info.collect()
    prov = facts["default_model"].get("provenance")
    if not prov:
        pytest.skip("no bundled model with provenance")
    lines = out.splitlines()
    assert max(len(ln) for ln in lines if "/" not in ln) <= 100  # paths may run long; nothing else does
    for key in prov:
        assert sum(ln.strip().startswith(f"{key} ") or ln.strip() in (key, f"{key}:") for ln in lines) >= 1, key
    assert prov["weights_sha256"] in out
