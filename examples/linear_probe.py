"""Train a linear classifier on embeddings of your own labelled folder and report test accuracy.

    python examples/linear_probe.py DATA_DIR [--model M] [--test-size 0.3]

DATA_DIR holds one sub-folder per class (DATA_DIR/dog/*.wav, DATA_DIR/rain/*.wav, ...). Needs
scikit-learn (`pip install 'slicer-embed[train]'`). For the benchmark protocol see `slicer-embed eval`.
"""

import argparse
from pathlib import Path

import numpy as np

from slicer_embed import load

EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3"}


def main(argv=None):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    files, labels = [], []
    for class_dir in sorted(p for p in args.data_dir.iterdir() if p.is_dir()):
        for f in sorted(class_dir.rglob("*")):
            if f.suffix.lower() in EXTENSIONS:
                files.append(f)
                labels.append(class_dir.name)
    if len(set(labels)) < 2:
        raise SystemExit(f"{args.data_dir}: need at least two class sub-folders with audio files")

    model = load(args.model, device="cpu")
    X = model.embed_files(files)
    y = np.array(labels)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=args.test_size, stratify=y, random_state=args.seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    clf.fit(X_tr, y_tr)
    acc = float((clf.predict(X_te) == y_te).mean())
    print(f"{len(files)} clips, {len(set(labels))} classes, test accuracy {acc:.3f} "
          f"(chance {1 / len(set(labels)):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
