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
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from slicer_embed.extraction import writers
from slicer_embed.locking import OutputLock
from test_extract_data import make_model, tone

SR = 16000


def _extract(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "slicer_embed", "extract", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
                          timeout=timeout)


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
    again = _extract(src, out, "--model", model_dir, "--resume", "--num-workers", "0", "-q")
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


from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

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


def test_an_npy_output_named_like_a_sidecar_is_refused():
    with pytest.raises(writers.OutputError, match="sidecar"):
        writers.infer_format("x.npy.json", "npy", "clip")


def test_a_legacy_out_json_of_ours_is_removed_when_out_npy_is_replaced(tmp_path):
    out = tmp_path / "o.npy"
    legacy = tmp_path / "o.json"
    legacy.write_text(json.dumps({"paths": ["a"], "metadata": {"slicer_embed_version": "0.1"}, "rows": 1}))
    writers._commit_npy(np.ones((3, 4), np.float32), out, {"paths": ["a", "b", "c"], "metadata": {}})
    assert not legacy.exists() and json.loads(writers.sidecar_path(out).read_text())["rows"] == 3
    legacy.write_text('{"not": "ours"}')  # someone else's file of that name is left alone
    writers._commit_npy(np.ones((2, 4), np.float32), out, {"paths": ["a", "b"], "metadata": {}})
    assert legacy.read_text() == '{"not": "ours"}'
