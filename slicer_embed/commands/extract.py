"""``slicer-embed extract SOURCE OUTPUT``: embed files, folders, globs or path lists into one output.

Exit status: 0 every input embedded; 1 some inputs failed (listed in ``OUTPUT.errors.tsv`` and on
stderr) or the run stopped under ``--on-error raise``; 2 usage or model error; 130 interrupted
(finished work is kept for ``--resume``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from typing import TYPE_CHECKING

# Torch-free: --help and usage errors answer before the encoder stack is imported (in main()).
from ..choices import DEFAULT_EXTENSIONS, FORMATS, LEVELS, ON_ERROR, PRECISIONS, STORAGE_DTYPES
from ..config import POOLINGS

if TYPE_CHECKING:
    from ..extraction.options import ExtractOptions

EPILOG = """\
outputs:
  out.npy       clip embeddings (N, D), rows in input order, or with --level frame the frames (sum T, D);
                out.npy.json lists paths, durations, metadata (+ frame_offsets); np.load(.., mmap_mode="r")
  out.npz       embeddings, paths, durations, metadata (+ frame_embeddings, frame_offsets, timestamps
                for --level frame/both); loads with np.load(..., allow_pickle=False), each array whole
  out.parquet   one row per clip or frame (needs pyarrow: pip install 'slicer-embed[parquet]')
  out_dir/      one <relative path>.npz per input, mirroring SOURCE; existing ones are skipped
Failed inputs are listed in OUTPUT.errors.tsv. An interrupted run leaves OUTPUT.partial/; rerun the
same command with --resume to finish it. Under torchrun, ranks share the inputs and rank 0 writes OUTPUT.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slicer-embed extract", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Embed audio files with a SLICER model.")
    p.add_argument("source", help="audio file, directory (recursive), glob, .txt/.csv list of paths, or - (stdin)")
    p.add_argument("output", help="out.npy | out.npz | out.parquet | out_dir/")
    p.add_argument("--model", default=None, help="model folder or Hub repo id (default: the bundled model)")
    p.add_argument("--revision", default=None, help="Hub branch, tag or commit")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--level", choices=LEVELS, default="clip", help="clip embeddings, frame embeddings, or both")
    p.add_argument("--pooling", choices=POOLINGS, default=None, help="clip pooling (default: the model's)")
    p.add_argument("--storage-dtype", choices=STORAGE_DTYPES, default="float32",
                   help="dtype of the stored embeddings (default float32; float16 halves the files, "
                        "computing stays float32)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default=None, help="force the output format")
    p.add_argument("--batch-size", type=int, default=64, help="0.96 s windows per encoder call (default 64)")
    p.add_argument("--num-workers", type=int, default=2, help="decoding processes; 0 = main process (default 2)")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="encoder numerics: float32 (default: the plain model's numbers up to float rounding) or "
                        "bfloat16 (opt-in, within cosine 0.99999 of float32 on real audio; fast on CPUs with AVX512-BF16/AMX)")
    p.add_argument("--exact", action="store_true",
                   help="run the plain float32 module graph instead of the fast path: rows equal to "
                        "load().embed() (bit for bit, or to a float32 step on CPUs whose conv kernels "
                        "depend on the batch size), about 3x slower on CPU")
    p.add_argument("--fast", action="store_true", help=argparse.SUPPRESS)  # the default since 0.1; kept for scripts
    p.add_argument("--threads", type=int, default=None,
                   help="torch OpenMP threads inside each encoder op (default on CPU: one thread per core, "
                        "each computing whole batches)")
    p.add_argument("--ext", default=",".join(DEFAULT_EXTENSIONS),
                   help="comma-separated extensions to pick up in directories/globs (default %(default)s)")
    p.add_argument("--no-recursive", action="store_true", help="do not descend into subfolders")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT and discard OUTPUT.partial/")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUTPUT.partial/")
    p.add_argument("--on-error", choices=ON_ERROR, default="skip",
                   help="skip bad inputs (default) or stop at the first")
    p.add_argument("--checkpoint-seconds", type=float, default=60.0,
                   help="save finished work to OUTPUT.partial/ at least this often (default 60)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar; only errors")
    return p


def options_from_args(a: argparse.Namespace) -> ExtractOptions:
    from ..extraction.options import ExtractOptions
    exts = tuple(e.strip().lstrip(".") for e in a.ext.split(",") if e.strip())
    return ExtractOptions(source=a.source, output=a.output, model=a.model, revision=a.revision,
                          device=a.device, level=a.level, pooling=a.pooling, storage_dtype=a.storage_dtype,
                          batch_size=a.batch_size, num_workers=a.num_workers, fmt=a.fmt, extensions=exts,
                          recursive=not a.no_recursive, overwrite=a.overwrite, resume=a.resume,
                          on_error=a.on_error, quiet=a.quiet, checkpoint_seconds=a.checkpoint_seconds,
                          precision=a.precision, exact=a.exact, threads=a.threads)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    from ..extraction.memory import tune_for_extraction
    from ..extraction.runner import run
    # This process is ours: keep its memory flat over hours of audio without page-faulting the
    # fast path (extraction/memory.py). Before run(); decoding workers re-pin their own.
    tune_for_extraction(args.exact)
    try:
        return run(options_from_args(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
