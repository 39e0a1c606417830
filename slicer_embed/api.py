"""The two ways to get a model: ``load`` (pretrained weights) and ``create_model`` (random weights).

``load_from_directory`` builds a model from a model folder; ``load`` uses it for the bundled model, local
folders and Hub snapshots.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from . import hub
from .config import ModelConfig
from .model import SlicerModel


def load(name_or_path: str | os.PathLike | None = None, *, revision: str | None = None,
         device: str | torch.device | None = None, cache_dir: str | os.PathLike | None = None,
         local_files_only: bool | None = None, token: str | bool | None = None) -> SlicerModel:
    """Load a pretrained SLICER model, in eval mode, on ``device``.

    ``name_or_path``:
      - ``None``: the default model shipped inside the package (no network);
      - a local folder holding ``config.json`` and ``model.safetensors`` (never touches the network);
      - a Hub repo id ``"org/name"``, fetched through ``huggingface_hub`` into its cache; ``revision``
        pins a branch, tag or commit, ``local_files_only`` (default: ``HF_HUB_OFFLINE``) forbids the
        network, ``token`` reaches private repos.

    ``device``: ``None``/``"auto"`` (cuda, then mps, then cpu), or ``"cpu"``, ``"cuda:1"``, ``"mps"``.

    >>> model = load("path/to/model")                         # doctest: +SKIP
    >>> model.embed(wav, 16000).shape                          # doctest: +SKIP
    (2048,)
    """
    if name_or_path is None:
        if not (hub.BUNDLED_DIR / hub.WEIGHTS_NAME).is_file():
            raise hub.ModelNotFoundError(
                "this slicer-embed build ships no default pretrained model yet: pass a local model "
                "folder or a Hub repo id to load(), or use create_model() for random weights")
        model = load_from_directory(hub.BUNDLED_DIR, device)
        model.source = "bundled"
        return model
    if isinstance(name_or_path, str) and not name_or_path.strip():
        # Path("") is ".", which would load the current folder as a model ("./: no config.json")
        raise hub.ModelNotFoundError("the model name is empty: pass a model folder or a Hub repo id "
                                     "('org/name'), or leave it out for the bundled model")
    path = Path(name_or_path).expanduser()
    if path.exists():
        if path.is_file() and path.name in (hub.WEIGHTS_NAME, hub.CONFIG_NAME):
            path = path.parent
        return load_from_directory(path, device)
    name = str(name_or_path)
    if not hub.looks_like_repo_id(name):
        raise hub.ModelNotFoundError(f"{name}: no such model folder (and not a Hub repo id like 'org/name')")
    snapshot = hub.download(name, revision=revision, cache_dir=cache_dir,
                            local_files_only=local_files_only, token=token)
    model = load_from_directory(snapshot, device)
    model.source = f"hf-hub:{name}"
    model.revision = snapshot.name  # the snapshot folder is named after the resolved commit
    return model


def load_from_directory(directory: str | os.PathLike, device: str | torch.device | None = None) -> SlicerModel:
    """Build a ``SlicerModel`` from a folder holding ``config.json`` and ``model.safetensors``."""
    directory = Path(directory)
    for name in (hub.CONFIG_NAME, hub.WEIGHTS_NAME):
        if not (directory / name).is_file():
            raise hub.ModelNotFoundError(f"{directory}: no {name} (a model folder holds {hub.CONFIG_NAME} "
                                         f"and {hub.WEIGHTS_NAME})")
    config = ModelConfig.from_json_file(directory / hub.CONFIG_NAME)
    digest = config.provenance.get("weights_sha256")
    if not digest:
        warnings.warn(f"{directory / hub.CONFIG_NAME} records no provenance.weights_sha256, so the integrity of "
                      f"{hub.WEIGHTS_NAME} cannot be checked (re-save with save_pretrained to record it)",
                      UserWarning, stacklevel=3)
    model = SlicerModel(config)
    hub.load_weights(model, directory / hub.WEIGHTS_NAME, digest)
    model.source = str(directory)
    return model.to(hub.resolve_device(device)).eval()


def create_model(pretrained: bool = False, *, config: ModelConfig | None = None,
                 device: str | torch.device | None = "cpu", seed: int | None = None) -> SlicerModel:
    """The reference SLICER architecture (5,321,856 parameters).

    ``pretrained=False`` gives random weights (PyTorch's default init, seeded by ``seed`` if given),
    for training and tests; ``pretrained=True`` is ``load()`` of the default model. Either way the
    model is a ``SlicerModel`` in eval mode.
    """
    if pretrained:
        if config is not None:
            raise ValueError("config= cannot be combined with pretrained=True (the weights fix the config)")
        return load(device=device)
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = SlicerModel(config)
    else:
        model = SlicerModel(config)
    return model.to(hub.resolve_device(device)).eval()
