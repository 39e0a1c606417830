"""Embed every audio file under a folder into one .npz per file, mirroring the folder tree.

    python examples/embed_folder_to_npz.py AUDIO_DIR OUT_DIR [--model M]

Each OUT_DIR/<relative path>.npz holds `embedding` (2048,), `frame_embeddings` (T, 2048) and
`timestamps` (T,) in seconds. Files that cannot be decoded are reported and skipped. For large
collections prefer `slicer-embed extract AUDIO_DIR OUT_DIR/` (workers, resume, error file).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from slicer_embed import AudioDecodeError, load
from slicer_embed.audio import load_audio

EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)

    model = load(args.model, device="cpu")
    files = sorted(p for p in args.audio_dir.rglob("*") if p.suffix.lower() in EXTENSIONS)
    failed = 0
    for path in files:
        try:
            wav = load_audio(path, model.sample_rate)
        except AudioDecodeError as e:
            print(f"skipped: {e}", file=sys.stderr)
            failed += 1
            continue
        frames = model.embed_frames(wav, model.sample_rate)
        out = args.out_dir / path.relative_to(args.audio_dir).with_suffix(".npz")
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, embedding=model.embed(wav, model.sample_rate), frame_embeddings=frames.embeddings,
                 timestamps=frames.timestamps)
    print(f"embedded {len(files) - failed} file(s) into {args.out_dir}, {failed} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
