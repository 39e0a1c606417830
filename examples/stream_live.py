"""Embed audio as it arrives: push chunks to ``model.stream`` and use each frame as soon as it exists.

    python examples/stream_live.py speech.wav [--chunk-ms 100] [--model MODEL_DIR_OR_HUB_ID]
    arecord -q -f S16_LE -r 16000 -c 1 -t wav | slicer-embed stream -     # the same from a microphone

Here the "live" source is a file read in chunks of --chunk-ms (as a sound card would deliver them);
each 0.96 s window's 12 frames come out when its last sample arrives. A running mean of the frames
is printed, e.g. to compare against a reference embedding for a wake-word or a speaker.
"""

import argparse

import numpy as np
import soundfile as sf

from slicer_embed import load


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", help="a file to play in as if live")
    parser.add_argument("--chunk-ms", type=float, default=100.0, help="chunk length in milliseconds (default 100)")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    args = parser.parse_args(argv)

    model = load(args.model, device="cpu")
    info = sf.info(args.audio)
    stream = model.stream(sample_rate=info.samplerate)
    total, n = None, 0
    blocksize = max(1, int(info.samplerate * args.chunk_ms / 1000))
    for block in sf.blocks(args.audio, blocksize=blocksize, dtype="float32", always_2d=True):
        frames = stream.push(block.mean(axis=1))  # (n, 2048), usually 0 or 12 rows
        for t, e in zip(frames.timestamps, frames.embeddings):
            total = e.astype(np.float64) if total is None else total + e
            n += 1
        if len(frames.embeddings):
            print(f"t={frames.timestamps[-1]:6.2f} s: {len(frames.embeddings)} new frames, "
                  f"running mean norm {np.linalg.norm(total / n):.3f}")
    last = stream.flush()
    n += len(last.embeddings)
    print(f"end: {n} frames for {stream.seconds:.2f} s of audio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
