"""Add an embedding column to a Hugging Face ``datasets.Dataset`` with an audio column.

    python examples/embed_hf_dataset.py FOLDER [--model MODEL_DIR_OR_HUB_ID] [--out DATASET_DIR]

Builds a Dataset from the audio files of FOLDER (label = parent folder name; with a hub dataset you
would start from ``datasets.load_dataset(...)`` instead), then ``Dataset.map(batched=True)`` calls
``model.embed`` on the decoded Audio values ({"array", "sampling_rate"}) of each batch: each value
carries its own rate, so clips of mixed rates need no resampling step of your own.
"""

import argparse
from pathlib import Path

import soundfile as sf

from slicer_embed import load


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="folder of audio files (wav, flac, ogg, mp3), one subfolder per label")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    parser.add_argument("--out", default=None, help="save the dataset with its embeddings here")
    args = parser.parse_args(argv)
    import datasets  # pip install datasets

    files = sorted(p for p in Path(args.folder).rglob("*") if p.suffix.lower() in (".wav", ".flac", ".ogg", ".mp3"))
    rows = {"audio": [], "label": []}
    for p in files:
        x, sr = sf.read(str(p), dtype="float32", always_2d=True)
        rows["audio"].append({"array": x.mean(axis=1), "sampling_rate": sr})  # the decoded Audio form
        rows["label"].append(p.relative_to(args.folder).parts[0])
    ds = datasets.Dataset.from_dict(rows)

    model = load(args.model, device="cpu")
    ds = ds.map(lambda batch: {"embedding": list(model.embed(batch["audio"]))}, batched=True, batch_size=16)
    print(f"{len(ds)} rows; columns {ds.column_names}; embedding size {len(ds[0]['embedding'])}")
    if args.out:
        ds.save_to_disk(args.out)
        print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
