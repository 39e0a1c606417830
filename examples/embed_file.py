"""Embed one audio file and print the clip embedding and the frame timeline.

    python examples/embed_file.py speech.wav [--model MODEL_DIR_OR_HUB_ID]
"""

import argparse

import soundfile as sf

from slicer_embed import load


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", help="any file libsndfile reads (wav, flac, ogg, mp3)")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    args = parser.parse_args(argv)

    model = load(args.model, device="cpu")
    clip = model.embed_file(args.audio)  # (2048,) float32; channels averaged, resampled to 16 kHz
    print(f"clip embedding: shape {clip.shape}, dtype {clip.dtype}, norm {float((clip ** 2).sum() ** 0.5):.3f}")

    wav, sr = sf.read(args.audio, dtype="float32", always_2d=True)
    frames = model.embed_frames(wav.mean(axis=1), sr)  # one embedding every 80 ms
    print(f"frames: {frames.embeddings.shape[0]} x {frames.embeddings.shape[1]}, "
          f"first centres {frames.timestamps[:3].round(3).tolist()} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
