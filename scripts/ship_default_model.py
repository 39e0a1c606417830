"""Make a trained model the package's bundled default (``slicer_embed/weights/``).

    python scripts/ship_default_model.py runs/no_cluster/model --note "mini-LAPE mean 53.3 (docs/results.md)"

Copies the model's weights as float32 (config.json + model.safetensors, the sha256 recorded in the
config's provenance, as ``save_pretrained`` does), adds ``provenance.shipped_as_default`` and the given
note, and prints the sha256 for the CHANGELOG. Then regenerate the golden embedding on purpose:
``SLICER_EMBED_UPDATE_GOLDEN=1 python -m pytest tests/test_default_model.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="trained model folder (RUN/model) or checkpoint run folder")
    p.add_argument("--note", default="", help="free text recorded in the provenance (why this model)")
    p.add_argument("--out", type=Path, default=ROOT / "slicer_embed" / "weights")
    a = p.parse_args(argv)

    import slicer_embed
    from slicer_embed.hub import WEIGHTS_NAME, file_sha256

    model = slicer_embed.load(a.model, device="cpu")
    provenance = {k: v for k, v in dict(model.config.provenance).items() if k != "weights_sha256"}
    provenance["shipped_as_default"] = {"from": str(a.model), "note": a.note}
    model.config = model.config.replace(provenance=provenance)
    model.save_pretrained(a.out)  # atomic; records the new file's sha256 in config.json
    sha = file_sha256(a.out / WEIGHTS_NAME)
    size = (a.out / WEIGHTS_NAME).stat().st_size
    print(f"{a.out}: {size / 2**20:.1f} MiB, sha256 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
