"""Add an embedding column to a Hugging Face ``datasets.Dataset`` with an audio column.

    python examples/embed_hf_dataset.py FOLDER [--model MODEL_DIR_OR_HUB_ID] [--out DATASET_DIR]

Builds a Dataset from the audio files of FOLDER (label = parent folder name; with a hub dataset you
would start from ``datasets.load_dataset(...)`` instead), casts its audio column to
``Audio(decode=False)``, then ``Dataset.map(batched=True)`` calls ``model.embed`` on the undecoded values
({"bytes", "path"}) of each batch: the package decodes them with its own reader at each file's rate, so
neither torchcodec nor FFmpeg is needed (datasets 4+ decodes an Audio column through them), and clips
of mixed rates need no resampling step of your own. Decoded values ({"array", "sampling_rate"}) work too.
"""

import argparse
from pathlib import Path

from slicer_embed import load


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="folder of audio files (wav, flac, ogg, mp3), one subfolder per label")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    parser.add_argument("--out", default=None, help="save the dataset with its embeddings here")
    args = parser.parse_args(argv)
    import datasets  # pip install datasets

    files = sorted(p for p in Path(args.folder).rglob("*") if p.suffix.lower() in (".wav", ".flac", ".ogg", ".mp3"))
    rows = {"audio": [str(p) for p in files], "label": [p.relative_to(args.folder).parts[0] for p in files]}
    ds = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio(decode=False))

    model = load(args.model, device="cpu")
    ds = ds.map(lambda batch: {"embedding": list(model.embed(batch["audio"]))}, batched=True, batch_size=16)
    print(f"{len(ds)} rows; columns {ds.column_names}; embedding size {len(ds[0]['embedding'])}")
    if args.out:
        ds.save_to_disk(args.out)
        print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
