"""Model files, ``config.json`` + ``model.safetensors``: saved, checked and read in a folder, the wheel or the Hub.

Weights are only ever read with safetensors (never ``torch.load`` of pickles) and loaded strictly:
missing, unexpected and wrongly shaped tensors are all reported by name before anything is copied.
Hub repos go through ``huggingface_hub`` (its cache, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT``, revision
pinning); a local path never touches the network. Building a ``SlicerModel`` from a folder is
``api.load_from_directory``: this module knows the files, not the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_text
from .config import ConfigError
from .version import __version__

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
README_NAME = "README.md"
BUNDLED_DIR = Path(__file__).parent / "weights"
"""Where the default model's files live inside the installed package."""


class ModelNotFoundError(FileNotFoundError):
    """The requested model is not in a folder, the package, the cache or the Hub."""


class WeightsError(ValueError):
    """A weights file that does not match the model its config describes."""


# -- saving -----------------------------------------------------------------------------------

def weights_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The tensors that go into ``model.safetensors`` (learned parameters + BatchNorm buffers)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def save_pretrained(model: Any, directory: str | os.PathLike, *, model_card: str | None = None,
                    dtype: torch.dtype | None = None) -> None:
    """Write ``config.json`` and ``model.safetensors`` (and ``README.md``) atomically into ``directory``.

    ``dtype=torch.float16`` stores floating-point tensors in half precision (loaded back as float32).
    The weights' sha256 is recorded in the config's provenance and checked on load.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = weights_state_dict(model)
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    meta = {"format": "pt", "library": "slicer-embed", "library_version": __version__,
            "schema_version": str(model.config.schema_version)}
    tmp_weights = directory / (WEIGHTS_NAME + ".tmp")
    save_file(tensors, str(tmp_weights), metadata=meta)
    _canonical_header(tmp_weights)
    _default_permissions(tmp_weights)
    sha = file_sha256(tmp_weights)
    config = model.config.replace(provenance={**dict(model.config.provenance), "weights_sha256": sha})
    atomic_write_text(directory / CONFIG_NAME, config.to_json())
    os.replace(tmp_weights, directory / WEIGHTS_NAME)
    if model_card is not None:
        atomic_write_text(directory / README_NAME, model_card)



def _canonical_header(path: Path) -> None:
    """Rewrite a safetensors header with sorted keys, in place, so equal weights give equal files.

    safetensors serialises the metadata from a hash map whose order changes from run to run, so the
    same weights saved twice had different sha256s. Sorting changes neither the header's length
    (same compact JSON) nor any tensor offset (they are relative to the end of the header).
    """
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        canonical = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        if len(canonical) <= n:
            f.seek(8)
            f.write(canonical + b" " * (n - len(canonical)))  # the format allows trailing spaces


def _default_permissions(path: Path) -> None:
    """Give ``path`` the mode an ordinary ``open()`` would (0666 minus the umask).

    safetensors creates its files 0600, so a model saved by root and installed system-wide (the
    bundled default goes into the wheel with its file mode) would be unreadable to other users.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- loading ----------------------------------------------------------------------------------

def load_weights(model: torch.nn.Module, path: str | os.PathLike, expected_sha256: str | None = None) -> None:
    """Strictly load a safetensors file into ``model``, checking names, shapes and (optionally) sha256."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if expected_sha256 and file_sha256(path) != expected_sha256:
        raise WeightsError(f"{path}: sha256 does not match the one recorded in config.json "
                           f"(file changed or paired with the wrong config)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path}: not a readable safetensors file ({e})") from e
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    shapes = sorted(f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
                    for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if shapes:
            parts.append(f"shape mismatches [{'; '.join(shapes)}]")
        raise WeightsError(f"{path} does not match the architecture in config.json: " + ", ".join(parts))
    kinds = sorted(f"{k} ({v.dtype})" for k, v in tensors.items()
                   if v.is_floating_point() != expected[k].is_floating_point())
    if kinds:  # an integer tensor cast to float would load (and fail a later check for the wrong reason)
        raise WeightsError(f"{path}: {len(kinds)} tensor(s) have the wrong kind of dtype ({', '.join(kinds[:3])}"
                           f"{', ...' if len(kinds) > 3 else ''}): weights and BatchNorm statistics must be "
                           f"floating-point (float32, float16 or bfloat16), counters integer")
    check_tensors(tensors, path)
    cast = {k: v.to(expected[k].dtype) for k, v in tensors.items()}
    model.load_state_dict(cast, strict=True)


def check_tensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Refuse weights that can only give wrong embeddings: NaN/Inf values, BatchNorm variances <= 0."""
    bad = sorted(k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if bad:
        raise WeightsError(f"{path}: {len(bad)} tensor(s) hold NaN or Inf values ({', '.join(bad[:5])}"
                           f"{', ...' if len(bad) > 5 else ''}); the embeddings would be NaN or garbage")
    var = sorted(k for k, v in tensors.items() if k.endswith("running_var") and bool((v <= 0).any()))
    if var:
        raise WeightsError(f"{path}: BatchNorm variances must be > 0, but {', '.join(var)} holds values <= 0")


def looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return (len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))
            and "\\" not in name and not name.endswith((".json", ".safetensors")))


def download(repo_id: str, *, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
             local_files_only: bool | None = None, token: str | bool | None = None) -> Path:
    """Fetch a Hub model's files into the huggingface_hub cache; returns the snapshot folder.

    ``local_files_only=None`` follows ``HF_HUB_OFFLINE``. Errors name the repo, the revision and,
    when offline, the command that prefetches the model.
    """
    from huggingface_hub import hf_hub_download
    try:  # huggingface_hub >= 0.24
        from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError,
                                            RepositoryNotFoundError, RevisionNotFoundError)
    except ImportError:  # 0.20-0.23 (the declared floor): the same classes, in huggingface_hub.utils
        from huggingface_hub.utils import (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError,
                                           RepositoryNotFoundError, RevisionNotFoundError)

    where = f"{repo_id}" + (f" at revision {revision}" if revision else "")
    kwargs = dict(revision=revision, cache_dir=cache_dir, token=token, library_name="slicer-embed",
                  library_version=__version__)
    if local_files_only is not None:
        kwargs["local_files_only"] = local_files_only
    try:
        config_path = Path(hf_hub_download(repo_id, CONFIG_NAME, **kwargs))
        hf_hub_download(repo_id, WEIGHTS_NAME, **kwargs)
    # LocalEntryNotFoundError subclasses EntryNotFoundError: it must come first.
    except LocalEntryNotFoundError as e:
        rev = f" --revision {revision}" if revision else ""
        raise ModelNotFoundError(
            f"{where} is not in the local cache and the Hub cannot be reached (offline or "
            f"HF_HUB_OFFLINE=1). On a machine with network run `slicer-embed download {repo_id}{rev}` "
            f"and copy the cache, or pass a local model folder") from e
    except RevisionNotFoundError as e:
        raise ModelNotFoundError(f"Hub repo {repo_id} has no revision {revision!r}") from e
    except RepositoryNotFoundError as e:
        raise ModelNotFoundError(f"Hub repo {repo_id} does not exist or is private (pass token=...)") from e
    except EntryNotFoundError as e:
        raise ModelNotFoundError(f"Hub repo {where} lacks {CONFIG_NAME} or {WEIGHTS_NAME}: "
                                 f"it is not a slicer-embed model") from e
    except HfHubHTTPError as e:
        raise ModelNotFoundError(f"could not fetch {where} from the Hub: {e}") from e
    return config_path.parent


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"`` -> cuda if available, then mps, then cpu; anything else as torch reads it."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available in this torch build")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} requested but MPS is not available on this machine")
    return dev


def push_to_hub(model: Any, repo_id: str, *, revision: str | None = None, private: bool | None = None,
                token: str | None = None, commit_message: str = "Upload slicer-embed model",
                model_card: str | None = None) -> str:
    """Save the model to a temporary folder and upload it with ``HfApi.upload_folder``."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, model_card=model_card)
        info = api.upload_folder(repo_id=repo_id, folder_path=tmp, revision=revision,
                                 commit_message=commit_message)
    return str(getattr(info, "commit_url", info))


__all__ = ["ConfigError", "ModelNotFoundError", "WeightsError", "save_pretrained", "download", "push_to_hub",
           "resolve_device", "load_weights", "BUNDLED_DIR"]
