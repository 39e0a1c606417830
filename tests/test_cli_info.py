"""``slicer-embed info`` and ``slicer-embed download`` (the latter against the loopback Hub)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import slicer_embed
from slicer_embed import cli
from slicer_embed.commands import info
from test_extract_data import tone


def test_info_reports_versions_devices_model_and_cache(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for word in ("slicer-embed", slicer_embed.__version__, "torch", "numpy", "libsndfile", "soxr",
                 "huggingface_hub", "auto", "default model", "present", "cache"):
        assert word in out
    assert info.main(["--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["versions"]["torch"].split("+")[0] == __import__("torch").__version__.split("+")[0]
    assert facts["devices"]["auto"] in ("cpu", "cuda", "mps")
    assert isinstance(facts["devices"]["cpu_native_bfloat16"], bool)
    assert facts["devices"]["cpu_onednn_packed_linear"] == torch.backends.mkldnn.is_available()
    assert isinstance(facts["default_model"]["present"], bool)
    assert facts["hub"]["cache"]


def test_info_summarises_a_bundled_model_and_prints_the_card(tmp_path, monkeypatch, capsys):
    assert info.default_model(tmp_path)["present"] is False
    slicer_embed.create_model(seed=0).save_pretrained(tmp_path)
    d = info.default_model(tmp_path)
    assert d["present"] and d["embedding_dim"] == 2048 and d["sample_rate"] == 16000
    assert d["window_seconds"] == pytest.approx(0.96) and len(d["provenance"]["weights_sha256"]) == 64
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# SLICER test card\nlicense: MIT\n")
    monkeypatch.setattr(info, "MODEL_CARD", card)
    assert info.main(["--card"]) == 0
    assert "# SLICER test card" in capsys.readouterr().out
    monkeypatch.setattr(info, "MODEL_CARD", tmp_path / "missing.md")
    assert info.main(["--card"]) == 0
    assert "no model card" in capsys.readouterr().out


def _cli(args, env_extra, tmp_path, timeout=180):
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_XET": "1", "NO_PROXY": "127.0.0.1",
           "HF_HUB_OFFLINE": "0", "OMP_NUM_THREADS": "1", **env_extra}
    return subprocess.run([sys.executable, "-m", "slicer_embed", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_download_offline_error_is_clear(tmp_path):
    r = _cli(["download", "slicer/never-cached"], {"HF_HUB_OFFLINE": "1"}, tmp_path)
    assert r.returncode == 2
    assert "offline" in r.stderr and "slicer-embed download slicer/never-cached" in r.stderr


def test_download_rejects_non_repo_ids_and_accepts_local_folders(tmp_path, capsys):
    from slicer_embed.commands import download
    assert download.main(["not a repo id"]) == 2
    assert "not a Hub repo id" in capsys.readouterr().err
    assert download.main([str(tmp_path)]) == 0  # a local folder needs no download
    assert "local folder" in capsys.readouterr().err


def test_download_then_extract_offline(tmp_path):
    hub_server = pytest.importorskip("hub_server")  # the lead's loopback Hub (tests/hub_server.py)
    folder = tmp_path / "v1"
    model = slicer_embed.create_model(seed=3)
    model.save_pretrained(folder)
    wav = tmp_path / "x.wav"
    sf.write(wav, tone(1.3, 16000), 16000)
    with hub_server.FakeHub() as hub:
        sha = hub.add_folder("slicer/test-model", folder)
        local = tmp_path / "local"
        r = _cli(["download", "slicer/test-model", "--local-dir", str(local)], {"HF_ENDPOINT": hub.url}, tmp_path)
        assert r.returncode == 0, r.stderr
        assert sha in r.stdout and "HF_HUB_OFFLINE=1" in r.stdout
        n_requests = len(hub.requests)
        out = tmp_path / "e.npy"
        r = _cli(["extract", str(wav), str(out), "--model", "slicer/test-model", "--revision", sha,
                  "--num-workers", "0", "-q"], {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "1"}, tmp_path)
        assert r.returncode == 0, r.stderr
        assert len(hub.requests) == n_requests  # served from the cache, no network
    expected = model.embed_file(wav)
    np.testing.assert_allclose(np.load(out)[0], expected, rtol=1e-5, atol=1e-5)
    meta = json.loads((tmp_path / "e.npy.json").read_text())["metadata"]
    assert meta["model_revision"] == sha and meta["model_source"] == "hf-hub:slicer/test-model"
    np.testing.assert_allclose(slicer_embed.load(local).embed_file(wav), expected, rtol=1e-6, atol=1e-6)


def test_output_cut_short_by_a_pipe_is_not_a_traceback():
    # `slicer-embed info --card | head -1`: the reader closes the pipe after one line
    r = subprocess.run(f"{sys.executable} -m slicer_embed info --card | head -1", shell=True,
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.stdout.strip() == "versions:"
    assert "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr, r.stderr


def _entry(args, call="entry_point()"):
    # The console script's path (cli.entry_point) in a fresh interpreter, with an atexit hook that
    # shows whether the interpreter's normal shutdown ran.
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('interpreter-shutdown', file=sys.stderr))\n"
            f"sys.argv = ['slicer-embed', *{list(args)!r}]\n"
            f"from slicer_embed.cli import entry_point, main\n{call}\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_inference_verbs_exit_without_interpreter_teardown_and_lose_no_output(tmp_path):
    normal = _entry(["info", "--card"], call="sys.exit(main())")
    assert normal.returncode == 0 and "interpreter-shutdown" in normal.stderr
    r = _entry(["info", "--card"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == normal.stdout  # fully flushed into the pipe before the process ended
    assert "interpreter-shutdown" not in r.stderr
    # statuses survive the quick exit: 1 when an input failed, 2 for usage errors
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    sf.write(good, tone(1.0, 16000), 16000)
    bad.write_bytes(b"not audio")
    r = _entry(["extract", str(tmp_path), str(tmp_path / "out.npy"), "--num-workers", "0"])
    assert r.returncode == 1, r.stderr
    assert "bad.wav" in r.stderr and np.load(tmp_path / "out.npy").shape[0] == 1
    assert _entry(["extract", str(tmp_path / "missing"), str(tmp_path / "o.npy")]).returncode == 2


def test_other_verbs_keep_the_normal_interpreter_shutdown():
    r = _entry(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("slicer-embed ")
    assert "interpreter-shutdown" in r.stderr
