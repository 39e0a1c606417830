"""The ``extract`` run: discover inputs, load the model, embed what is not finished, write OUTPUT.

Flow (every rank under torchrun; rank 0 alone decides about OUTPUT and writes it):

1. check options, discover SOURCE, load the model (errors: exit status 2);
2. rank 0 checks OUTPUT and creates or validates ``OUTPUT.partial/`` (``--resume``/``--overwrite``);
3. every rank embeds its share of the unfinished inputs, saving finished files as shards;
4. barrier; rank 0 assembles the shards into OUTPUT and ``OUTPUT.errors.tsv`` and removes the
   partial folder. Exit status 0 when every input was embedded, 1 when some failed.
"""

from __future__ import annotations

import datetime
import hashlib
import platform
import shutil
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np
import torch

from .. import api, hub
from ..config import ConfigError
from ..locking import OutputLock, OutputLocked
from ..paths import display, to_bytes
from ..runtime import start_forward
from ..version import __version__
from . import distributed as dist_
from . import store, writers
from .dataset import DONE, Batch, WindowSpec, make_loader
from .encoder_thread import submit_to_encoder_thread
from .options import ExtractOptions
from .pooling import FileAccumulator, window_summaries
from .progress import Progress
from .sources import Entry, discover

OK, SOME_FAILED, USAGE = 0, 1, 2
_COMPLETE = 100  # rank 0 found OUTPUT already finished (internal, agreed between ranks)
_STOPPED = 101  # a rank stopped on --on-error raise (internal)


class _Setup:
    """What step 1 produces."""

    def __init__(self, opts: ExtractOptions, fmt: str, entries: list[Entry], model: Any):
        self.opts, self.fmt, self.entries, self.model = opts, fmt, entries, model
        self.output = Path(opts.output).expanduser()
        self.partial = self.output.with_name(self.output.name + ".partial")
        self.pooling = opts.pooling or model.pooling
        self.spec = WindowSpec.of(model)
        self.targets: list[Path] | None = None  # dir format: each input's file (writers.dir_targets)


def run(opts: ExtractOptions, *, stdin: TextIO | None = None) -> int:
    """Run one extraction; returns the exit status (0 ok, 1 some inputs failed, 2 usage/model error)."""
    world = dist_.from_env()
    dist_.init(world)
    try:
        return _run(opts, world, stdin)
    finally:
        dist_.shutdown(world)


def _run(opts: ExtractOptions, world: dist_.World, stdin: TextIO | None) -> int:
    setup, status = _setup(opts, world, stdin)
    status = dist_.max_all(world, status)
    if status:
        return status
    lock = OutputLock(writers.lock_path(setup.output), str(setup.output))
    try:
        status = OK
        if world.is_main:  # one lock per output: rank 0 holds it for the whole job
            try:
                lock.acquire()
            except OutputLocked as e:
                _error(str(e))
                status = USAGE
            except OSError as e:  # a read-only or full filesystem, no permission
                _error(_fs_error(e, lock.path, "cannot create the output lock"))
                status = USAGE
        status = dist_.max_all(world, status)
        if status:
            return status
        status = dist_.max_all(world, _prepare_output(setup) if world.is_main else OK)
        if status == _COMPLETE:
            return SOME_FAILED if writers.errors_path(setup.output).is_file() else OK
        if status:
            return status
        try:
            stopped = _embed_share(setup, world)
        except OSError as e:  # a shard or spill file could not be written: say so once, keep what is saved
            _error(_fs_error(e, setup.partial, "cannot save finished work") + f"; the work saved so far stays in "
                   f"{setup.partial} for --resume once the cause is fixed")
            stopped = USAGE
        stopped = dist_.max_all(world, stopped)
        if stopped:
            return SOME_FAILED if stopped == _STOPPED else stopped
        status = _finish(setup) if world.is_main else OK
        return dist_.max_all(world, status)
    finally:
        lock.release()


def _error(msg: str) -> None:
    print(f"slicer-embed extract: error: {msg}", file=sys.stderr)


def _fs_error(e: OSError, where: Path, doing: str) -> str:
    """One line for a filesystem error: what failed, the path (the error's own, else ``where``), the cause.

    ``os.pwrite`` and zip members raise without a file name; the folder or file being written is named
    then."""
    path = e.filename if e.filename is not None else where
    cause = e.strerror or str(e) or type(e).__name__
    return f"{doing}: {display(path)}: {cause}"


def _setup(opts: ExtractOptions, world: dist_.World, stdin: TextIO | None) -> tuple[Any, int]:
    try:
        opts.validate()
        fmt = writers.infer_format(opts.output, opts.fmt, opts.level)
        entries = discover(opts.source, extensions=opts.extensions, recursive=opts.recursive, stdin=stdin)
        targets = (writers.dir_targets(Path(opts.output).expanduser(), [e.rel for e in entries])
                   if fmt == "dir" else None)  # clashing names are resolved before any write
        if fmt == "parquet":  # fail now, not after hours of embedding
            from .parquet import import_pyarrow
            import_pyarrow()
    except (ValueError, OSError, ImportError) as e:  # SourceError, OutputError, option errors: ValueError
        _error(str(e))
        return None, USAGE
    try:
        device = dist_.rank_device(hub.resolve_device(opts.device), world)
        model = api.load(opts.model, revision=opts.revision, device=device)
        opts.configure(model)
    except (hub.ModelNotFoundError, hub.WeightsError, ConfigError, ValueError, OSError) as e:
        _error(f"cannot load the model: {e}")
        return None, USAGE
    setup = _Setup(opts, fmt, entries, model)
    setup.targets = targets
    if world.is_main and fmt == "npz" and opts.level != "clip":
        _warn_npz_size(setup)
    return setup, OK


NPZ_NOTE_BYTES = 1 << 30


def _warn_npz_size(setup: _Setup) -> None:
    """Say before the run, not at ``np.load`` time, that a large frame-level ``.npz`` loads whole."""
    from .estimate import audio_seconds, frame_bytes

    seconds = audio_seconds(setup.entries)
    size = frame_bytes(seconds, setup.model.embedding_dim, np.dtype(setup.opts.storage_dtype).itemsize,
                       setup.model.frame_hop_seconds)
    if size >= NPZ_NOTE_BYTES:
        print(f"slicer-embed extract: note: {setup.output} will hold about {size / 2**30:.1f} GiB of frame "
              f"embeddings ({seconds / 3600:.1f} h of audio). It is written in bounded memory, but "
              f"np.load reads frame_embeddings whole (an .npz member cannot be memory-mapped): to open it "
              f"you need that much free RAM. For frame output this size write .npy (--level frame; "
              f"np.load(path, mmap_mode='r')), a directory (one file per input) or .parquet.", file=sys.stderr)


def fingerprint(setup: _Setup) -> dict[str, Any]:
    """What must match for shards of an earlier run to be reused by ``--resume``."""
    listing = b"\n".join(to_bytes(e.path) + b"\t" + to_bytes(e.rel) for e in setup.entries)
    return {"inputs_sha256": hashlib.sha256(listing).hexdigest(), "n_inputs": len(setup.entries),
            "model_weights": _weights_id(setup.model), "pooling": setup.pooling, "level": setup.opts.level,
            "sample_rate": setup.spec.sample_rate, "window": setup.spec.window, **numerics(setup.model)}


def numerics(model: Any) -> dict[str, Any]:
    """How the encoder computes: ``precision`` float32|bfloat16 and whether the fast path is on.

    Part of the resume fingerprint (shards of a bfloat16 run never mix with float32 ones) and of the
    output metadata.
    """
    o = model.inference_options
    return {"precision": o.precision if o is not None else "float32", "fast_path": o is not None}


def _weights_id(model: Any) -> str:
    sha = model.config.provenance.get("weights_sha256")
    if sha:
        return str(sha)
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# What a finished output must share with a run that would reuse it: how rows are computed and stored,
# and (for one-file outputs) which inputs they come from. A dir output gathers inputs over runs.
HOW_KEYS = ("model_weights", "pooling", "level", "sample_rate", "window", "precision", "fast_path", "storage_dtype")
WHAT_KEYS = ("inputs_sha256", "n_inputs")


def _expected(setup: _Setup) -> dict[str, Any]:
    return {**fingerprint(setup), "storage_dtype": setup.opts.storage_dtype}


def _finished_mismatch(setup: _Setup) -> str | None:
    """None when the finished OUTPUT was made by this very run (same inputs, model, options), else why not."""
    recorded = writers.read_metadata(setup.output, setup.fmt) or {}
    old = recorded.get("fingerprint")
    if not isinstance(old, dict):
        return (f"{setup.output} records no fingerprint of the inputs and options that made it (written by an "
                f"earlier build, or not by extract), so --resume cannot check it against {setup.opts.source!r}; "
                f"pass --overwrite to replace it")
    old = {**old, "storage_dtype": recorded.get("storage_dtype")}
    new = _expected(setup)
    diff = [k for k in (*WHAT_KEYS, *HOW_KEYS) if old.get(k) != new.get(k)]
    if not diff:
        return None
    what = ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" if k not in WHAT_KEYS else k for k in diff)
    return (f"{setup.output} was made from {recorded.get('source')!r} ({old.get('n_inputs')} inputs), not from "
            f"this run's {setup.opts.source!r} ({new['n_inputs']} inputs) with these options: differs in {what}; "
            f"pass --overwrite to replace it, or choose another OUTPUT")


def _dir_mismatches(setup: _Setup) -> list[str]:
    """Existing files of a dir output that this run would skip but that hold another input's
    embedding, or were made with another model or options (the first few, as messages)."""
    new = _expected(setup)
    found: list[str] = []
    for e, target in zip(setup.entries, setup.targets or []):
        if not target.exists():
            continue
        got = writers.read_dir_file(target)
        if got is None:
            found.append(f"{target} is not a file written by extract")
        elif got[0] != display(e.rel):
            found.append(f"{target} holds {got[0]!r}, not {display(e.rel)!r}")
        else:
            meta = got[1]
            # files of earlier builds have no fingerprint; their top-level metadata holds all but the window
            old = {**{k: meta[k] for k in HOW_KEYS if k in meta}, **(meta.get("fingerprint") or {})}
            diff = [k for k in HOW_KEYS if k in old and old[k] != new.get(k)]
            if "model_weights" not in old:
                found.append(f"{target} records no model (not a file written by extract)")
            elif diff:
                found.append(f"{target} was made with different " + ", ".join(
                    f"{k} ({old.get(k)!r}, now {new.get(k)!r})" for k in diff))
        if len(found) >= 3:
            break
    return found


def _prepare_output(setup: _Setup) -> int:
    """Rank 0: decide whether OUTPUT may be (re)written, and set up OUTPUT.partial/."""
    opts, out, partial = setup.opts, setup.output, setup.partial
    started = store.holds_run(partial)
    if setup.fmt != "dir" and out.exists() and not opts.overwrite:
        if opts.resume and not started:
            why = _finished_mismatch(setup)
            if why:
                _error(why)
                return USAGE
            print(f"{out} is already complete; nothing to resume", file=sys.stderr)
            return _COMPLETE
        if not opts.resume:
            _error(f"{out} exists; pass --overwrite to replace it")
            return USAGE
    if setup.fmt == "dir" and out.exists() and not out.is_dir():
        _error(f"{out} exists and is not a directory")
        return USAGE
    if started and not (opts.resume or opts.overwrite):
        _error(f"{partial} holds an interrupted run: pass --resume to continue it or --overwrite to start over")
        return USAGE
    if setup.fmt == "dir" and not opts.overwrite:
        bad = _dir_mismatches(setup)
        if bad:
            _error(f"{out} already holds files this run would skip but cannot use: {'; '.join(bad)}; pass "
                   f"--overwrite to redo them all, or choose another folder")
            return USAGE
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        store.prepare(partial, fingerprint(setup), resume=opts.resume, run={"source": opts.source})
        store.remove_orphan_spills(partial)  # frames of files a killed run had not finished
    except store.StateMismatch as e:
        _error(str(e))
        return USAGE
    except OSError as e:
        _error(_fs_error(e, partial, "cannot prepare the output"))
        if not store.holds_run(partial):  # set up halfway: nothing in it that a later run could use
            shutil.rmtree(partial, ignore_errors=True)
        return USAGE
    return OK


def _todo(setup: _Setup, world: dist_.World) -> list[tuple[int, str]]:
    """This rank's share of the inputs that are neither in a shard nor (dir output) already written."""
    done = store.summarize(setup.partial).finished()
    if setup.fmt == "dir" and not setup.opts.overwrite:
        done |= {i for i, t in enumerate(setup.targets or []) if t.exists()}
    pending = [(i, e.path) for i, e in enumerate(setup.entries) if i not in done]
    return pending[world.rank::world.size]


def _embed_share(setup: _Setup, world: dist_.World) -> int:
    """Embed this rank's share; returns 0, or _STOPPED after a failure under --on-error raise."""
    opts, model = setup.opts, setup.model
    items = _todo(setup, world)
    clip, frames = opts.level in ("clip", "both"), opts.level in ("frame", "both")
    shards = store.ShardWriter(setup.partial, world.rank, model.embedding_dim, clip, frames,
                               every_s=opts.checkpoint_seconds)
    label = "extract" if world.size == 1 else f"extract [rank {world.rank}/{world.size}]"
    progress = Progress(len(items), quiet=opts.quiet or not world.is_main, label=label)
    acc: dict[int, FileAccumulator] = {}
    pipeline = _Pipeline(model)
    previous: Batch | None = None
    try:
        for batch in make_loader(items, setup.spec, opts.batch_size, opts.num_workers):
            # Accumulators are created here: long-lived blocks stay out of the encoder's arena.
            targets = []
            for key in batch.keys.tolist():
                if key not in acc:  # one per file, not one per window thrown away by setdefault
                    acc[key] = FileAccumulator(model.embedding_dim, clip, frames, spill=_spill_factory(
                        setup.partial, world.rank, key) if frames else None, spill_rows=store.SPILL_ROWS)
                targets.append(acc[key])
            # This job starts the batch and pools the previous one while the cores compute; once it
            # is done the previous batch's files are complete and stored here, in the main thread.
            job = pipeline.submit(batch, targets)
            if previous is not None and not _collect(setup, previous, job, acc, shards, progress):
                return _STOPPED
            previous = batch
        if previous is not None and not _collect(setup, previous, pipeline.submit(None, []), acc, shards,
                                                 progress):
            return _STOPPED
    except KeyboardInterrupt:
        shards.flush()
        progress.close()
        print(f"\ninterrupted: finished files are saved in {setup.partial}; rerun with --resume",
              file=sys.stderr)
        raise
    shards.flush()
    progress.close()
    return OK


def _spill_factory(folder: Path, rank: int, key: int) -> Callable[[], store.FrameSpill]:
    return lambda: store.FrameSpill(folder, rank, key)


class _Pipeline:
    """The encoder thread's two-stage pipeline: each job starts one batch and pools the one before.

    ``submit(batch, targets)`` queues a job on the encoder thread that (1) starts the forward pass of
    ``batch`` (``runtime.start_forward``: on CPU its micro-batches go to the core-workers at once) and
    (2) waits for the previous batch's frames, pools them and adds each window's summary (and kept
    frames) to that batch's ``targets``. So the cores go on computing while a batch is pooled: with
    pooling after each forward pass, both cores waited ~6 ms per batch. ``submit(None, [])`` pools the
    last batch. The jobs run one at a time, in order, so the pending state needs no lock; the frames
    are pooled and released inside a job (a 6 MB result freed by the main thread at whatever moment
    it got to it made the encoder's arena fragment and grow: +400 MiB from a 5- to a 40-minute file).
    """

    def __init__(self, model: Any):
        self.model = model
        self.pending: tuple[Callable[[], torch.Tensor], Batch, list[FileAccumulator]] | None = None

    def submit(self, batch: Batch | None, targets: list[FileAccumulator]) -> "Future[None]":
        def job() -> None:
            started = None
            if batch is not None and targets:
                started = (start_forward(self.model, batch.windows.to(self.model.device)), batch, targets)
            previous, self.pending = self.pending, started
            if previous is not None:
                _pool_into(*previous)
        return submit_to_encoder_thread(job)


def _pool_into(wait: Callable[[], torch.Tensor], batch: Batch, targets: list[FileAccumulator]) -> None:
    """Add each window's frames of a finished forward pass to ``targets[i]``, its file's accumulator."""
    out = wait().float().cpu()
    clip = targets[0].clip
    sums, maxima = window_summaries(out, batch.kept) if clip else (None, None)
    for i, (target, k) in enumerate(zip(targets, batch.kept.tolist())):
        target.add(k, sums[i] if clip else None, maxima[i] if clip else None,
                   out[i, :k] if target.keep_frames else None)


def _collect(setup: _Setup, batch: Batch, job: "Future[None]", acc: dict[int, FileAccumulator],
             shards: store.ShardWriter, progress: Progress) -> bool:
    """Wait for the job that pools ``batch``, then store the files it finished. Returns False when
    the run must stop (``--on-error raise``), after saving what is finished."""
    job.result()
    for kind, key, value in batch.events:
        if not _record(setup, acc.pop(key, None), kind, key, value, shards, progress):
            shards.flush()
            return False
    return True


def _record(setup: _Setup, acc: FileAccumulator | None, kind: str, key: int, value: Any,
            shards: store.ShardWriter, progress: Progress) -> bool:
    """Store one finished input; returns False when the run must stop (--on-error raise)."""
    if kind == DONE and acc is not None:
        clip = acc.pooled(setup.pooling) if acc.clip else None
        frames = acc.frame_array() if acc.keep_frames else None
        shards.add_ok(key, int(value), clip, frames)
        progress.done(int(value) / setup.spec.sample_rate)
        return True
    reason = str(value) if kind != DONE else "decoded to no frames"
    if acc is not None:
        acc.discard()
    shards.add_fail(key, reason)
    progress.fail(display(setup.entries[key].rel), reason)
    return setup.opts.on_error != "raise"


def metadata(setup: _Setup) -> dict[str, Any]:
    """Provenance written into every output."""
    m = setup.model
    return {"slicer_embed_version": __version__, "created": datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec="seconds"), "model_source": m.source, "model_revision": m.revision,
            "model_weights": _weights_id(m), "model_config": m.config.to_dict(),
            "sample_rate": m.sample_rate, "window_seconds": m.window_seconds,
            "frame_hop_seconds": m.frame_hop_seconds, "pooling": setup.pooling, "level": setup.opts.level,
            "storage_dtype": setup.opts.storage_dtype, "source": setup.opts.source, **numerics(m),
            "fingerprint": fingerprint(setup),  # checked by a later --resume on the finished output
            "options": setup.opts.to_dict(), "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _finish(setup: _Setup) -> int:
    """Rank 0: shards -> OUTPUT (+ errors file), then remove the partial folder."""
    summary = store.summarize(setup.partial)
    spec = setup.spec
    plan = writers.Plan(setup.output, setup.fmt, setup.opts.level, np.dtype(setup.opts.storage_dtype),
                        [e.rel for e in setup.entries], setup.model.embedding_dim, spec.hop, spec.stride,
                        spec.sample_rate, metadata(setup), setup.targets)
    try:
        rows = writers.write(plan, summary, setup.partial)
    except ImportError as e:  # parquet without pyarrow: the shards stay for a --resume with pyarrow
        _error(str(e))
        return USAGE
    except OSError as e:  # a full or read-only disk at the end: every shard is kept for --resume
        _error(_fs_error(e, setup.output, "cannot write the output") + f"; the embedded work stays in "
               f"{setup.partial}: free space (or fix the cause) and rerun with --resume")
        return USAGE
    shutil.rmtree(setup.partial, ignore_errors=True)
    n_fail = len(summary.failures)
    if not setup.opts.quiet:
        hours = sum(summary.samples.values()) / spec.sample_rate / 3600
        print(f"embedded {rows} file(s), {hours:.3f} h of audio -> {setup.output}", file=sys.stderr)
    if n_fail:
        print(f"{n_fail} file(s) failed; listed in {writers.errors_path(setup.output)}", file=sys.stderr)
    return SOME_FAILED if n_fail else OK

