"""Find the clips in a folder that sound most like a query clip (cosine similarity of embeddings).

    python examples/nearest_neighbours.py QUERY.wav CLIPS_DIR [-k 5] [--model M]
"""

import argparse
from pathlib import Path

import numpy as np

from slicer_embed import load

EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3"}


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("query", type=Path)
    parser.add_argument("clips_dir", type=Path)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)

    model = load(args.model, device="cpu")
    files = sorted(p for p in args.clips_dir.rglob("*") if p.suffix.lower() in EXTENSIONS)
    bank = normalise(model.embed_files(files))  # (N, 2048); windows of many files batched together
    query = normalise(model.embed_file(args.query))
    scores = bank @ query
    for rank, i in enumerate(np.argsort(-scores)[: args.k], start=1):
        print(f"{rank}. {scores[i]:.4f}  {files[i]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
