"""Hub loading through the real huggingface_hub client against a loopback Hub (tests/hub_server.py).

Each client run happens in a fresh interpreter, because huggingface_hub reads HF_ENDPOINT,
HF_HUB_OFFLINE and HF_HOME when it is imported, exactly as a user's process would.
"""

import json

import numpy as np
import pytest

from conftest import run_python
from hub_server import FakeHub
from slicer_embed import create_model

LOAD = """
import json, sys, numpy as np, soundfile as sf
import slicer_embed
args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {ARGS}
try:
    m = slicer_embed.load(args.pop("name"), device="cpu", **args)
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
else:
    x, _ = sf.read({SPEECH!r}, dtype="float32")
    np.save({OUT!r}, m.embed(x, 16000))
    print(json.dumps({"revision": m.revision, "source": m.source}))
"""


def client(tmp_path, hub, speech_path, env_extra=None, **args):
    out = tmp_path / "emb.npy"
    code = LOAD.replace("{ARGS}", repr(args)).replace("{SPEECH!r}", repr(str(speech_path))).replace(
        "{OUT!r}", repr(str(out)))
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "NO_PROXY": "127.0.0.1",
           "HF_HUB_DISABLE_XET": "1", **(env_extra or {})}
    r = run_python(code, env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    if "error" not in result:
        result["embedding"] = np.load(out)
    return result


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """Two models saved as folders: v1 and v2 of the same repo."""
    root = tmp_path_factory.mktemp("versions")
    for i, seed in enumerate((11, 12)):
        create_model(seed=seed).save_pretrained(root / f"v{i + 1}")
    return root


SPEECH = __import__("pathlib").Path(__file__).parent / "fixtures" / "speech_front_center_16k.flac"


def same_model(got, want):
    """Embeddings of the same weights from two processes: equal to float rounding. The two processes may
    run different torch thread counts, and on CPUs with AMX oneDNN's sums then differ in the last bit;
    v1 and v2 differ by far more (checked in the test), so this still tells the versions apart."""
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def local_embedding(folder):
    import soundfile as sf
    from slicer_embed import load
    x, _ = sf.read(SPEECH, dtype="float32")
    return load(folder, device="cpu").embed(x, 16000)


def test_hub_download_revision_pinning_and_offline_cache(hub, two_versions, tmp_path):
    sha1 = hub.add_folder("slicer/test-model", two_versions / "v1")
    sha2 = hub.add_folder("slicer/test-model", two_versions / "v2")
    assert sha1 != sha2
    e1, e2 = local_embedding(two_versions / "v1"), local_embedding(two_versions / "v2")
    assert np.abs(e1 - e2).max() > 1e-3  # the versions are far apart: same_model tells them apart

    latest = client(tmp_path, hub, SPEECH, name="slicer/test-model")
    assert latest["revision"] == sha2 and latest["source"] == "hf-hub:slicer/test-model"
    same_model(latest["embedding"], e2)

    pinned = client(tmp_path, hub, SPEECH, name="slicer/test-model", revision=sha1)
    assert pinned["revision"] == sha1
    same_model(pinned["embedding"], e1)
    assert ("HEAD", f"/slicer/test-model/resolve/{sha1}/config.json") in hub.requests

    # Offline: served from the cache, and not a single request reaches the Hub.
    n_requests = len(hub.requests)
    offline = client(tmp_path, hub, SPEECH, {"HF_HUB_OFFLINE": "1"}, name="slicer/test-model", revision=sha1)
    same_model(offline["embedding"], e1)
    assert len(hub.requests) == n_requests
    # local_files_only=True does the same without the environment variable
    cached = client(tmp_path, hub, SPEECH, name="slicer/test-model", revision=sha1, local_files_only=True)
    same_model(cached["embedding"], e1)
    assert len(hub.requests) == n_requests


def test_hub_errors_are_clear(hub, two_versions, tmp_path):
    hub.add_folder("slicer/test-model", two_versions / "v1")
    hub.add_files("slicer/not-a-model", {"README.md": b"hello"})
    r = client(tmp_path, hub, SPEECH, name="slicer/missing")
    assert r["error"] == "ModelNotFoundError" and "does not exist" in r["message"]
    r = client(tmp_path, hub, SPEECH, name="slicer/test-model", revision="v9.9")
    assert r["error"] == "ModelNotFoundError" and "no revision 'v9.9'" in r["message"]
    r = client(tmp_path, hub, SPEECH, name="slicer/not-a-model")
    assert r["error"] == "ModelNotFoundError" and "not a slicer-embed model" in r["message"]
    r = client(tmp_path, hub, SPEECH, {"HF_HUB_OFFLINE": "1"}, name="slicer/never-cached")
    assert r["error"] == "ModelNotFoundError"
    assert "offline" in r["message"] and "slicer-embed download slicer/never-cached" in r["message"]


def test_push_to_hub_round_trip(hub, two_versions, tmp_path):
    code = f"""
import slicer_embed
m = slicer_embed.load({str(two_versions / 'v2')!r}, device="cpu")
print(m.push_to_hub("someone/pushed", token="hf_fake_token", model_card="# card"))
"""
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf_push"), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1"}
    r = run_python(code, env)
    assert r.returncode == 0, r.stderr
    assert "/someone/pushed/commit/" in r.stdout
    repo = hub.repos["someone/pushed"]
    files = repo.commits[repo.branches["main"]]
    assert set(files) == {"config.json", "model.safetensors", "README.md"}
    pulled = client(tmp_path, hub, SPEECH, name="someone/pushed")
    same_model(pulled["embedding"], local_embedding(two_versions / "v2"))
