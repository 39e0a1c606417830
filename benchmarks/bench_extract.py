"""End-to-end extraction speed of ``slicer-embed extract``, its split, the hardware limit and a peer.

One run prints, side by side (all rates in x realtime = audio seconds per wall second):

(a) ``slicer-embed extract DIR out.npy`` as a subprocess, wall time including process start, for the
    plain float32 path and the fast paths of ``slicer_embed.runtime`` (selected through
    ``--precision`` when extract has it, else the ``SLICER_EMBED_PRECISION`` variable);
(b) the split, measured in-process on the first ``--split-minutes``: decode (soundfile), resample (soxr, on a 44.1 kHz copy of a
    subset), log-mel frontend, encoder (plain / fast float32 / fast bfloat16), Python start-up;
(c) the machine's measured peak: GFLOP/s of large float32 and bfloat16 matmuls and of the encoder's
    64->64 3x3 convolution, and the x realtime those peaks would allow at the encoder's FLOPs;
(d) a floor: decode + log-mel only (no encoder);
(e) aisfx (Ma & Lerch, ISMIR 2022; pretrained PyTorch CNN whose weights ship in its wheel), run
    through its Python API in its own virtual environment on the same audio.

The test audio (generated once, cached in ``--cache-dir``): ``--minutes`` of 16 kHz 16-bit mono WAV
in 10 s files, each a different mix of the real speech fixture (tests/fixtures), tones, a chirp and
noise. Without ``--model`` a random-weight model (seed 0) is used: speed does not depend on the
weights. Usage::

    python benchmarks/bench_extract.py                       # 60 minutes, everything
    python benchmarks/bench_extract.py --minutes 5 --skip-aisfx

aisfx is installed, once, with::

    python -m venv --system-site-packages .cache/aisfx-venv
    .cache/aisfx-venv/bin/pip install --no-deps aisfx==0.1.2   # librosa, numpy, tqdm, torch: system
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "speech_front_center_16k.flac"
SR = 16000
RESAMPLE_SR = 44100
DEFAULT_CACHE = ROOT / ".cache" / "bench_extract"
DEFAULT_AISFX_PYTHON = ROOT / ".cache" / "aisfx-venv" / "bin" / "python"
_CORES = os.cpu_count() or 1
# plain: the plain float32 graph (--exact); fast: the fast float32 path, extract's default (one torch
# thread per core-worker, runtime.recommended_options); bf16: --precision bfloat16 on the same path;
# "omp": the same with torch's OpenMP threads inside each op instead (--threads N).
DEFAULT_VARIANTS = (f"plain; fast omp: fast --threads {_CORES}; bf16 omp: bf16 --threads {_CORES}; "
                    "fast (default): fast; bf16: bf16")


@dataclass(frozen=True)
class Row:
    """One line of the results table: ``seconds`` of wall time for ``audio_s`` seconds of audio."""

    section: str
    name: str
    seconds: float
    audio_s: float
    note: str = ""

    @property
    def x_realtime(self) -> float:
        return self.audio_s / self.seconds if self.seconds > 0 else float("inf")


# -------------------------------------------------------------------------------------------------
# Test audio
# -------------------------------------------------------------------------------------------------

def make_clip(i: int, seconds: float, speech: np.ndarray) -> np.ndarray:
    """A different 10 s mix per index: tiled speech at a random offset and gain, a tone, a chirp, noise."""
    rng = np.random.default_rng(1000 + i)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    start = int(rng.integers(len(speech)))
    x = rng.uniform(0.3, 1.0) * np.resize(np.roll(speech, -start), n)
    f0, f1 = rng.uniform(80, 2000), rng.uniform(100, 6000)
    x += rng.uniform(0.0, 0.2) * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 6.28))
    x += rng.uniform(0.0, 0.1) * np.sin(2 * np.pi * (f0 + (f1 - f0) * t / (2 * seconds)) * t)
    x += rng.uniform(0.001, 0.05) * rng.standard_normal(n)
    return (0.9 * x / max(1e-3, float(np.abs(x).max()))).astype(np.float32)


def ensure_audio(cache: Path, minutes: float, file_seconds: float, resample_minutes: float) -> tuple[Path, Path]:
    """Create (once) the 16 kHz set and a 44.1 kHz copy of its first ``resample_minutes``; returns both dirs."""
    n_files = max(1, int(round(minutes * 60 / file_seconds)))
    n_res = max(1, min(n_files, int(round(resample_minutes * 60 / file_seconds))))
    d16 = cache / f"wav16k_{n_files}x{file_seconds:g}s"
    d44 = cache / f"wav44k_{n_res}x{file_seconds:g}s"
    speech, sr = sf.read(str(FIXTURE), dtype="float32")
    assert sr == SR, sr
    import soxr
    for d, n, rate in ((d16, n_files, SR), (d44, n_res, RESAMPLE_SR)):
        if (d / "complete").is_file():
            continue
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            x = make_clip(i, file_seconds, speech)
            if rate != SR:
                x = soxr.resample(x, SR, rate).astype(np.float32)
            sf.write(str(d / f"clip_{i:05d}.wav"), x, rate, subtype="PCM_16")
        (d / "complete").write_text(str(n))
    return d16, d44


def audio_seconds(files: Sequence[Path]) -> float:
    return sum(sf.info(str(f)).duration for f in files)


def ensure_model(cache: Path, model: str | None) -> str:
    """The model folder to benchmark: ``model`` or a cached random-weight model (seed 0)."""
    if model:
        return model
    d = cache / "random_model_seed0"
    if not (d / "model.safetensors").is_file():
        import slicer_embed
        slicer_embed.create_model(seed=0).save_pretrained(d)
    return str(d)


# -------------------------------------------------------------------------------------------------
# (a) end to end
# -------------------------------------------------------------------------------------------------

def extract_flags() -> set[str]:
    """The options ``slicer-embed extract --help`` lists (``--exact``, ``--precision``, ``--threads``...)."""
    out = subprocess.run([sys.executable, "-m", "slicer_embed", "extract", "--help"], capture_output=True,
                         text=True, timeout=120)
    return {w.strip("[],") for w in out.stdout.split() if w.startswith(("--", "[--"))}


def variant_args(name: str, flags: set[str]) -> tuple[list[str], dict[str, str]]:
    """Extract arguments and extra environment of a named variant.

    ``plain``: the plain float32 graph (``--exact``; the default of builds without that flag).
    ``fast``: the fast float32 path (the default; ``--fast`` in builds without ``--exact``).
    ``bf16``: the fast bfloat16 path (``--precision bfloat16`` or ``SLICER_EMBED_PRECISION=bfloat16``).
    """
    new = "--exact" in flags
    if name == "plain":
        return (["--exact"] if new else []), {}
    if name == "fast":
        return ([] if new else ["--fast"]), {}
    if name == "bf16":
        return ((["--precision", "bfloat16"], {}) if "--precision" in flags
                else ([], {"SLICER_EMBED_PRECISION": "bfloat16"}))
    raise ValueError(f"unknown variant {name!r}; use plain, fast or bf16")


def parse_variants(spec: str) -> list[tuple[str, str, list[str], dict[str, str]]]:
    """``"plain; bf16 w1: bf16 --num-workers 1 OMP_WAIT_POLICY=PASSIVE"`` -> [(label, base, args, env)].

    Words of the form ``NAME=value`` with an upper-case NAME are environment variables of that run.
    """
    out = []
    for item in (x.strip() for x in spec.split(";")):
        if not item:
            continue
        label, _, rest = item.partition(":")
        words = (rest or label).split()
        env = dict(w.split("=", 1) for w in words[1:] if "=" in w and w.split("=", 1)[0].isupper())
        args = [w for w in words[1:] if not ("=" in w and w.split("=", 1)[0].isupper())]
        out.append((label.strip(), words[0], args, env))
    return out


def run_extract(src: Path, out: Path, model: str, args: Sequence[str], env_extra: dict[str, str]) -> float:
    """Wall seconds of one ``slicer-embed extract`` subprocess (process start included)."""
    exe = shutil.which("slicer-embed")
    argv = ([exe] if exe else [sys.executable, "-m", "slicer_embed"])
    argv += ["extract", str(src), str(out), "--model", model, "-q", "--overwrite", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLICER_EMBED_")}
    env.update(env_extra)
    t0 = time.perf_counter()
    res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    return dt


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest row-wise cosine similarity between two (N, D) embedding matrices."""
    num = (a.astype(np.float64) * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float((num / np.maximum(den, 1e-30)).min())


# -------------------------------------------------------------------------------------------------
# (b) split, (c) peak, (d) floor: in-process
# -------------------------------------------------------------------------------------------------

def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Fastest wall seconds of ``fn()`` over ``repeats`` runs (interference only ever adds time)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def windows_of(clips: Sequence[np.ndarray], window: int) -> np.ndarray:
    """All encoder windows (N, window) float32 of the clips, cut as extract cuts them."""
    from slicer_embed.windows import iter_windows
    return np.stack([w for c in clips for w, _ in iter_windows([c], window)])


def encoder_flops_per_window(cfg: Any) -> float:
    """Multiply-adds x 2 of the encoder for one window (conv blocks + the two FC layers)."""
    a = cfg.architecture
    h, w = a.n_mels, cfg.window_samples // cfg.frontend.hop_length + 1  # log-mel (64, 97)
    flops, c_in = 0.0, 1
    for _ in range(a.n_blocks):
        flops += 2.0 * 9 * c_in * a.conv_channels * h * w
        h, w, c_in = h // 2, w // 2, a.conv_channels
    frames = w
    flops += 2.0 * frames * (a.fc_input_dim * a.hidden_dim + a.hidden_dim * a.embedding_dim)
    return flops


def split_rows(files16: Sequence[Path], files44: Sequence[Path], model_dir: str, batch: int,
               repeats: int, mode: str) -> list[Row]:
    """(b) decode / resample / frontend / encoder and (d) decode + log-mel floor, in this process.

    ``mode="workers"``: every stage maps over its items (files, batches of windows) with one Python
    thread per core and one torch thread each, as ``runtime.recommended_options`` runs the encoder.
    ``mode="omp"``: items one after the other, torch's intra-op (OpenMP) threads inside each op.
    """
    import copy
    from concurrent.futures import ThreadPoolExecutor

    import torch

    import slicer_embed
    from slicer_embed.audio import stream_audio
    cores = torch.get_num_threads()
    pool = ThreadPoolExecutor(cores)

    def pmap(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        def one(x: Any) -> Any:
            with torch.inference_mode():  # per thread
                return fn(x)
        return list(pool.map(one, items)) if mode == "workers" else [one(x) for x in items]

    if mode == "workers":
        torch.set_num_threads(1)
    try:
        rows: list[Row] = []
        sec16, sec44 = audio_seconds(files16), audio_seconds(files44)
        decode = lambda f: np.concatenate(list(stream_audio(f, SR)))  # noqa: E731 - what extract runs
        t_dec = best_of(lambda: pmap(decode, files16), repeats)
        rows.append(Row("split", "decode 16 kHz WAV (soundfile)", t_dec, sec16))
        t_dec44 = best_of(lambda: pmap(lambda f: sf.read(str(f), dtype="float32"), files44), repeats)
        t_res = best_of(lambda: pmap(decode, files44), repeats) - t_dec44
        rows.append(Row("split", "resample 44.1 -> 16 kHz (soxr HQ)", max(t_res, 1e-9), sec44,
                        f"on a {sec44 / 60:.1f} min 44.1 kHz copy; its decode excluded"))
        model = slicer_embed.load(model_dir, device="cpu")
        model.set_inference_options(None)
        wins = torch.from_numpy(windows_of(pmap(decode, files16), model.config.window_samples))
        audio_in_windows = wins.numel() / SR
        # Micro-batches, as the fast path cuts a --batch-size batch (runtime.DEFAULT_MICRO_BATCH).
        from slicer_embed.runtime import DEFAULT_MICRO_BATCH
        chunks = [c for b in wins.split(batch) for c in b.split(DEFAULT_MICRO_BATCH)]
        t_fe = best_of(lambda: pmap(model.log_mel, chunks), repeats)
        rows.append(Row("split", "log-mel frontend (torch.stft)", t_fe, audio_in_windows))
        mels = pmap(model.log_mel, chunks)
        for name, precision in [("encoder, plain fp32", None), ("encoder, fast fp32", "float32"),
                                ("encoder, fast bf16", "bfloat16")]:
            m = copy.deepcopy(model)
            if precision:
                m.optimize(precision)
                _fast(m, mels[0])  # build the fast encoder once, outside the timing
            run = m.encoder if precision is None else (lambda mel, m=m: _fast(m, mel))
            rows.append(Row("split", name, best_of(lambda run=run: pmap(run, mels), repeats), audio_in_windows))
        rows.append(Row("floor", "decode + log-mel (no encoder)", t_dec + t_fe, sec16,
                        "sum of the two rows above"))
        return rows
    finally:
        torch.set_num_threads(cores)
        pool.shutdown()


def _fast(model: Any, mel: Any) -> Any:
    """The fast encoder alone on a ready log-mel (bypasses the frontend inside ``fast_forward``)."""
    from slicer_embed.runtime import FastEncoder, weights_stamp
    fast = getattr(model, "_fast_encoder", None)
    opts = model.inference_options
    if fast is None or fast.options != opts or fast.stamp != weights_stamp(model.encoder):
        fast = FastEncoder(model.encoder, opts)
        object.__setattr__(model, "_fast_encoder", fast)
    return fast(mel)


def peak_rows(flops_per_audio_s: float, repeats: int) -> list[tuple[str, float, float]]:
    """(c) (name, GFLOP/s, implied x realtime) for big matmuls and the encoder's 64->64 3x3 conv."""
    import torch
    import torch.nn.functional as F
    out = []
    n = 2048
    for dt in (torch.float32, torch.bfloat16):
        a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
        torch.mm(a, b)
        s = best_of(lambda: torch.mm(a, b), repeats)
        g = 2 * n ** 3 / s / 1e9
        out.append((f"matmul {n}x{n}x{n} {str(dt).split('.')[-1]}", g, g * 1e9 / flops_per_audio_s))
        # The fast path's fully connected layers: oneDNN with the weight packed once (on AMD CPUs
        # faster than torch.mm's MKL sgemm in float32).
        from slicer_embed.kernels import LinearReLU
        linear = LinearReLU(b, torch.zeros(n, dtype=dt), rows=n)
        if linear.packed:
            with torch.inference_mode():
                linear(a)
                s = best_of(lambda: linear(a), repeats)
            g = 2 * n ** 3 / s / 1e9
            out.append((f"matmul {n}x{n}x{n} {str(dt).split('.')[-1]}, oneDNN packed", g, g * 1e9 / flops_per_audio_s))
    x = torch.randn(64, 64, 32, 48).contiguous(memory_format=torch.channels_last)
    w = torch.randn(64, 64, 3, 3).contiguous(memory_format=torch.channels_last)
    for dt in (torch.float32, torch.bfloat16):
        xd, wd = x.to(dt), w.to(dt)
        with torch.inference_mode():
            F.conv2d(xd, wd, padding=1)
            s = best_of(lambda: F.conv2d(xd, wd, padding=1), repeats)
        g = 2 * 9 * 64 * 64 * 32 * 48 * 64 / s / 1e9
        out.append((f"conv 64->64 3x3 on (64,64,32,48) NHWC {str(dt).split('.')[-1]}", g,
                    g * 1e9 / flops_per_audio_s))
    return out


def startup_seconds(repeats: int) -> float:
    """Wall seconds of a Python process that imports slicer_embed (and torch) and exits."""
    cmd = [sys.executable, "-c", "import slicer_embed, torch, soundfile, soxr"]
    return best_of(lambda: subprocess.run(cmd, check=True), repeats)


# -------------------------------------------------------------------------------------------------
# (e) aisfx
# -------------------------------------------------------------------------------------------------

AISFX_DRIVER = r'''
import json, os, sys, time
t0 = time.perf_counter()
import numpy as np, torch
from aisfx import inference, preprocessing
from aisfx.spectrogram import spectrogram_librosa
from aisfx.models.cnn2d import CrossNet, EmbeddingNet
files = sys.argv[1:]
# aisfx.inference.load_weights calls torch.load with torch's default, which since torch 2.6 is
# weights_only=True and rejects this (trusted, bundled) pickle: load it the way aisfx 0.1.2 expected.
weights, ds = torch.load(inference.get_path_modelWeights(), map_location="cpu", weights_only=False)
model = inference.load_bestModel(weights, ds, "cpu")
t_load = time.perf_counter() - t0
n = 0
for f in files:  # the loop of aisfx.inference.main, minus its np.save of one file per input
    spec = spectrogram_librosa.compute_spectrogram(filename=f, sr=inference.SAMPLE_RATE,
        block_size=inference.SPEC_BLOCK_LENGTH, hop_size=inference.SPEC_HOP_LENGTH,
        n_mels=inference.MEL_BINS, f_min=inference.F_MIN, f_max=inference.F_MAX)
    spec = preprocessing.spectrogram_normalize(spec.T, spec_norm="original")
    emb = inference.model_get_embedding(spec, 0.5, True, model, "cpu")
    n += emb.shape[0]
print(json.dumps({"embeddings": n, "dim": int(emb.shape[-1]), "load_s": t_load,
                  "threads": torch.get_num_threads()}))
'''


def run_aisfx(python: Path, files: Sequence[Path]) -> tuple[float, dict[str, Any]]:
    """Wall seconds (process start included) and the driver's JSON summary."""
    with tempfile.NamedTemporaryFile("w", suffix="_aisfx_driver.py", delete=False) as f:
        f.write(AISFX_DRIVER)
    try:
        t0 = time.perf_counter()
        res = subprocess.run([str(python), f.name, *map(str, files)], capture_output=True, text=True,
                             timeout=3600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        dt = time.perf_counter() - t0
    finally:
        os.unlink(f.name)
    if res.returncode != 0:
        raise RuntimeError(f"aisfx driver failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return dt, json.loads(res.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------------------
# Report
# -------------------------------------------------------------------------------------------------

def machine() -> str:
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import torch
    return (f"{model}, {os.cpu_count()} CPU(s), Python {platform.python_version()}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads)")


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0, help="minutes of 16 kHz audio (default 60)")
    p.add_argument("--file-seconds", type=float, default=10.0, help="length of each file (default 10 s)")
    p.add_argument("--resample-minutes", type=float, default=5.0,
                   help="minutes of the 44.1 kHz copy used for the resampling split (default 5)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help=f"test audio cache (default {DEFAULT_CACHE})")
    p.add_argument("--model", default=None, help="model folder (default: random weights, seed 0)")
    p.add_argument("--variants", default=DEFAULT_VARIANTS,
                   help="end-to-end runs, ';'-separated 'label: base [extract args]' with base plain|fast|bf16 "
                        f"(default {DEFAULT_VARIANTS!r})")
    p.add_argument("--extract-args", default="", help="extra arguments for every extract run, e.g. '--num-workers 1'")
    p.add_argument("--sections", default="e2e,split,peak,aisfx",
                   help="what to run, comma-separated from e2e,split,peak,aisfx (default: all)")
    p.add_argument("--repeats", type=int, default=1, help="end-to-end runs per variant (fastest kept)")
    p.add_argument("--split-repeats", type=int, default=2, help="repeats of each in-process split timing")
    p.add_argument("--split-mode", choices=("workers", "omp"), default="workers",
                   help="in-process split: one Python thread per core with 1 torch thread each (default), "
                        "or torch's OpenMP threads inside each op")
    p.add_argument("--split-minutes", type=float, default=10.0,
                   help="minutes of the audio (its first files) used for the in-process split (default 10)")
    p.add_argument("--batch-size", type=int, default=64, help="windows per encoder call in the split (default 64)")
    p.add_argument("--skip-aisfx", action="store_true", help="do not run aisfx")
    p.add_argument("--aisfx-python", type=Path, default=DEFAULT_AISFX_PYTHON, help="python of the aisfx venv")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    a = p.parse_args(argv)

    load_before = load_avg()
    d16, d44 = ensure_audio(a.cache_dir, a.minutes, a.file_seconds, a.resample_minutes)
    files16, files44 = sorted(d16.glob("*.wav")), sorted(d44.glob("*.wav"))
    total_s = audio_seconds(files16)
    model_dir = ensure_model(a.cache_dir, a.model)
    print(f"machine: {machine()}\naudio: {len(files16)} files, {total_s / 60:.1f} min at 16 kHz in {d16}\n"
          f"model: {model_dir}\nload average before: {load_before}", flush=True)

    rows: list[Row] = []
    sections = {x.strip() for x in a.sections.split(",")} - ({"aisfx"} if a.skip_aisfx else set())
    flags = extract_flags()
    outs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, base, extra, extra_env in (parse_variants(a.variants) if "e2e" in sections else []):
            args, env = variant_args(base, flags)
            args += extra + a.extract_args.split()
            env.update(extra_env)
            out = Path(tmp) / "out.npy"
            dt = min(run_extract(d16, out, model_dir, args, env) for _ in range(a.repeats))
            outs[label] = np.load(out)
            how = " ".join(args + [f"{k}={v}" for k, v in env.items()]) or "(defaults)"
            rows.append(Row("end-to-end", f"slicer-embed extract: {label}", dt, total_s, how))
            print(f"  {rows[-1].name}: {dt:.2f} s = {rows[-1].x_realtime:.0f}x", flush=True)
    ref = outs.get("plain")
    cosines = {k: min_cosine(v, ref) for k, v in outs.items() if ref is not None and k != "plain"}

    if "split" in sections:
        t_start = startup_seconds(3)
        rows.append(Row("split", "python start + import slicer_embed, torch", t_start, total_s,
                        "fixed cost of every run"))
        n_split = max(1, int(round(a.split_minutes * 60 / a.file_seconds)))
        split = split_rows(files16[:n_split], files44, model_dir, a.batch_size, a.split_repeats, a.split_mode)
        rows += split
        floor = split[-1]  # what an extract that skipped the encoder could at best do, start included
        rows.append(Row("floor", "python start + decode + log-mel, all audio", t_start + floor.seconds *
                        total_s / floor.audio_s, total_s, "end-to-end equivalent of the row above"))
    import slicer_embed
    cfg = slicer_embed.create_model().config
    flops_window = encoder_flops_per_window(cfg)
    flops_audio_s = flops_window / (cfg.window_samples / cfg.frontend.sample_rate)
    peaks = peak_rows(flops_audio_s, 5) if "peak" in sections else []

    aisfx: dict[str, Any] | None = None
    if "aisfx" in sections:
        if not a.aisfx_python.exists():
            print(f"aisfx venv not found at {a.aisfx_python}; see the module docstring", file=sys.stderr)
        else:
            dt, aisfx = run_aisfx(a.aisfx_python, files16)
            rows.append(Row("peer", f"aisfx {aisfx.get('version', '0.1.2')} (Python API, 44.1 kHz CNN)", dt, total_s,
                            f"{aisfx['embeddings']} x {aisfx['dim']}-d embeddings, 2.3 s blocks, 1.16 s hop"))
            print(f"  aisfx: {dt:.1f} s = {rows[-1].x_realtime:.1f}x", flush=True)
    load_after = load_avg()

    print(f"\nload average before: {load_before}; after: {load_after}")
    print("\n| section | what | wall s | x realtime | note |\n|---|---|---:|---:|---|")
    for r in rows:
        print(f"| {r.section} | {r.name} | {r.seconds:.2f} | {r.x_realtime:,.0f} | {r.note} |")
    if cosines:
        print()
    for k, c in cosines.items():
        print(f"min clip cosine, extract {k} vs plain: {c:.6f}")
    print(f"\nencoder: {flops_window / 1e9:.3f} GFLOP per 0.96 s window = {flops_audio_s / 1e9:.3f} GFLOP "
          f"per audio second")
    if peaks:
        print("\n| peak kernel | GFLOP/s | FLOP-limit x realtime |\n|---|---:|---:|")
        for name, g, x in peaks:
            print(f"| {name} | {g:,.0f} | {x:,.0f} |")
    e2e = {r.name: r for r in rows if r.section == "end-to-end"}
    if aisfx:
        peer = next(r for r in rows if r.section == "peer")
        for r in e2e.values():
            print(f"speed ratio {r.name} / aisfx: {r.x_realtime / peer.x_realtime:.1f}x")
    if a.json:
        a.json.write_text(json.dumps({
            "rows": [dict(r.__dict__, x_realtime=r.x_realtime) for r in rows], "cosines": cosines,
            "peaks": peaks, "flops_per_audio_s": flops_audio_s, "load_before": load_before,
            "load_after": load_after, "machine": machine(), "aisfx": aisfx}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
