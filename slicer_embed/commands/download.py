"""``slicer-embed download MODEL``: prefetch a Hub model so later runs work offline.

The files go into the huggingface_hub cache (``--cache-dir``, else ``HF_HUB_CACHE``/``HF_HOME``);
``--local-dir DIR`` also copies ``config.json`` and ``model.safetensors`` into a plain folder that
``--model DIR`` / ``slicer_embed.load(DIR)`` read without any Hub machinery. The download is checked
by building the model from it (strict load, sha256 from the config). Exit status 0 ok, 2 failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slicer-embed download", description=__doc__.splitlines()[0])
    p.add_argument("model", help="Hub repo id, e.g. org/name")
    p.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    p.add_argument("--cache-dir", default=None, help="huggingface_hub cache folder")
    p.add_argument("--local-dir", default=None, help="also copy the model files into this folder")
    p.add_argument("--token", default=None, help="Hub token for private repos (default: the login's)")
    p.add_argument("--no-verify", action="store_true", help="skip building the model from the download")
    return p


def copy_model(snapshot: Path, dest: Path) -> list[Path]:
    """Copy the model files of ``snapshot`` into ``dest``, each atomically (tmp + rename)."""
    from .. import hub
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in (hub.CONFIG_NAME, hub.WEIGHTS_NAME, hub.README_NAME):
        src = snapshot / name
        if not src.is_file():
            continue
        tmp = dest / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            shutil.copyfile(src, tmp)  # follows the cache's symlinks to the blobs
            os.replace(tmp, dest / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        copied.append(dest / name)
    return copied


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from .. import hub  # torch: only once the arguments are good
    from ..api import load_from_directory

    if Path(args.model).expanduser().is_dir():
        print(f"slicer-embed download: {args.model} is a local folder; nothing to download "
              f"(use it directly with --model {args.model})", file=sys.stderr)
        return 0
    if not hub.looks_like_repo_id(args.model):
        print(f"slicer-embed download: {args.model!r} is not a Hub repo id like 'org/name'", file=sys.stderr)
        return 2
    try:
        snapshot = hub.download(args.model, revision=args.revision, cache_dir=args.cache_dir, token=args.token)
        if not args.no_verify:
            load_from_directory(snapshot, "cpu")
        copied = copy_model(snapshot, Path(args.local_dir).expanduser()) if args.local_dir else []
    except (hub.ModelNotFoundError, hub.WeightsError, hub.ConfigError, OSError) as e:
        print(f"slicer-embed download: error: {e}", file=sys.stderr)
        return 2
    print(f"downloaded {args.model} at revision {snapshot.name} into {snapshot}")
    if copied:
        print(f"copied {', '.join(p.name for p in copied)} into {Path(args.local_dir)}")
    print(f"offline use: HF_HUB_OFFLINE=1 slicer-embed extract SOURCE OUTPUT --model {args.model} "
          f"--revision {snapshot.name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
