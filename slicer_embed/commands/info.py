"""``slicer-embed info``: versions, devices, the default model and the Hub cache, for bug reports.

``--card`` also prints the default model's card (``slicer_embed/MODEL_CARD.md``) when the package
ships one; ``--json`` prints the same facts as one JSON object. Never touches the network.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Sequence

MODEL_CARD = Path(__file__).resolve().parent.parent / "MODEL_CARD.md"


def _version(dist: str) -> str:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    import numpy
    import soundfile
    import torch

    from ..version import __version__
    return {"slicer-embed": __version__, "python": platform.python_version(), "platform": platform.platform(),
            "torch": torch.__version__, "numpy": numpy.__version__, "soundfile": soundfile.__version__,
            "libsndfile": str(getattr(soundfile, "__libsndfile_version__", "unknown")),
            "soxr": _version("soxr"), "huggingface_hub": _version("huggingface_hub"),
            "safetensors": _version("safetensors"), "pyarrow (parquet extra)": _version("pyarrow")}


def devices() -> dict[str, Any]:
    import torch

    from ..hub import resolve_device
    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    mps = getattr(torch.backends, "mps", None)
    return {"auto": str(resolve_device("auto")), "cuda": cuda, "mps": bool(mps and mps.is_available()),
            "cpu_threads": torch.get_num_threads(), **cpu_kernels()}


def cpu_kernels() -> dict[str, bool]:
    """What the fast CPU path can use here: native bfloat16, oneDNN's packed linear (one tiny probe)."""
    import torch

    from ..kernels import LinearReLU
    from ..runtime import cpu_has_native_bfloat16
    with torch.inference_mode():
        packed = LinearReLU(torch.eye(8), torch.zeros(8)).packed
    return {"cpu_native_bfloat16": cpu_has_native_bfloat16(), "cpu_onednn_packed_linear": packed}


def default_model(bundled_dir: Path | None = None) -> dict[str, Any]:
    """Whether the package ships a default model and, if so, a summary of its config."""
    from ..config import ConfigError, ModelConfig
    from ..hub import BUNDLED_DIR, CONFIG_NAME, WEIGHTS_NAME
    folder = Path(bundled_dir or BUNDLED_DIR)
    info: dict[str, Any] = {"folder": str(folder), "present": (folder / WEIGHTS_NAME).is_file()}
    if not info["present"]:
        info["note"] = "no default model is bundled: pass --model FOLDER_OR_REPO to extract"
        return info
    try:
        cfg = ModelConfig.from_json_file(folder / CONFIG_NAME)
    except (ConfigError, OSError, ValueError) as e:
        info["error"] = str(e)
        return info
    info.update(sample_rate=cfg.frontend.sample_rate, embedding_dim=cfg.architecture.embedding_dim,
                window_seconds=cfg.window_samples / cfg.frontend.sample_rate,
                frame_hop_seconds=cfg.frame_hop_samples / cfg.frontend.sample_rate,
                pooling=cfg.inference.pooling, normalization_source=cfg.normalization.source,
                provenance=dict(cfg.provenance))
    return info


def hub_cache() -> dict[str, Any]:
    from huggingface_hub import constants
    return {"cache": str(constants.HF_HUB_CACHE), "offline": bool(constants.HF_HUB_OFFLINE),
            "endpoint": os.environ.get("HF_ENDPOINT", constants.ENDPOINT)}


def collect() -> dict[str, Any]:
    return {"versions": versions(), "devices": devices(), "default_model": default_model(),
            "hub": hub_cache()}


WIDTH = 100  # columns of the text report; long values wrap under their field


def _print_section(title: str, d: dict[str, Any]) -> None:
    print(f"{title}:")
    for k, v in d.items():
        print("\n".join(_field_lines(str(k), v, 1)))


def _field_lines(key: str, value: Any, depth: int) -> list[str]:
    """One field per line, nested dicts indented under their key; a long value (a long note, or a
    dict of more than 12 plain values such as the training recipe, as ``k=v, ...``) wrapped to WIDTH
    under its field."""
    import textwrap

    pad = "  " * depth
    if isinstance(value, dict) and value and (len(value) <= 12 or any(isinstance(v, dict) for v in value.values())):
        lines = [f"{pad}{key}:"]
        for k, v in value.items():
            lines += _field_lines(str(k), v, depth + 1)
        return lines
    if isinstance(value, dict):
        text = ", ".join(f"{a}={b}" for a, b in value.items()) or "-"
    elif isinstance(value, list):
        text = ", ".join(map(str, value)) or "none"
    else:
        text = str(value)
    head = f"{pad}{key:<{max(1, 26 - len(pad))}} "
    return textwrap.wrap(text, WIDTH, initial_indent=head, subsequent_indent=" " * len(head),
                         break_long_words=False, break_on_hyphens=False) or [head.rstrip()]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="slicer-embed info", description=__doc__.splitlines()[0])
    p.add_argument("--card", action="store_true", help="also print the default model's card")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    facts = collect()
    card = MODEL_CARD.read_text(encoding="utf-8") if MODEL_CARD.is_file() else None
    if args.json:
        if args.card:
            facts["model_card"] = card
        print(json.dumps(facts, indent=1, default=str))
        return 0
    for title, key in (("versions", "versions"), ("devices", "devices"), ("default model", "default_model"),
                       ("hub", "hub")):
        _print_section(title, facts[key])
    if args.card:
        print()
        print(card if card is not None else f"(no model card: {MODEL_CARD} does not exist)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
