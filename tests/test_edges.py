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
