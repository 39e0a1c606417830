"""Fast inference: an opt-in, eval-only execution path for ``SlicerModel.forward``.

``model.optimize()`` (or ``model.set_inference_options(InferenceOptions(...))``) makes every
no-grad, eval-mode call of ``model(wave)`` (the ``embed*`` APIs and ``slicer-embed extract``) run
``FastEncoder`` instead of the module graph. The default model is untouched: without options the
numerics are exactly those of the plain encoder.

What the fast path does, and why each step pays on a CPU (docs/performance.md has the figures):

- BatchNorm is folded into the preceding convolution (in float64, then cast): exact up to float
  rounding, and it removes two full passes over the largest activation of the network.
- 2x2 max-pooling runs *before* the ReLU (max and ReLU commute exactly) and as two element-wise
  maxima of strided views, several times faster than ``max_pool2d`` on CPU; so the ReLU touches a
  4x smaller tensor.
- channels-last convolutions: oneDNN's fast kernels for 64-channel 3x3 convs (and AMX in bf16).
  Block 1 (one input channel) is a 9-tap matmul that writes channels-last: ``F.conv2d`` would
  return NCHW there and make block 2 run on an NCHW input, ~20% slower (``kernels.py``).
- the fully connected layers run through oneDNN with their weights packed once, ReLU fused
  (``kernels.LinearReLU``; ``onednn=False`` or a torch without those kernels: ``F.linear``).
- micro-batches: a batch of windows is processed ``micro_batch`` windows at a time, so block 1's
  (micro_batch, 64, 64, 97) activation stays in the L2 cache instead of streaming through DRAM.
- ``workers`` (opt-in): micro-batches run concurrently in that many Python threads (torch ops
  release the GIL). With ``threads=1`` each core then runs whole micro-batches on its own: no
  OpenMP barrier between cores, which a busy machine punishes (one descheduled OpenMP thread stalls
  the other); see docs/performance.md for when it pays.
- ``precision="bfloat16"`` (opt-in): blocks 2-3 and the fully connected layers run in bf16 (AMX
  on CPUs that have it); block 1 (one input channel, memory-bound) and the log-mel stay float32;
  output frames are returned as float32. Within cosine 0.999 of float32 (tests/test_runtime.py).

``precision="bfloat16"`` only pays on CPUs with native bf16 (AMX or avx512_bf16; elsewhere it is
emulated and slower than float32), so asking for it on another CPU warns
(``cpu_has_native_bfloat16``). Thread count and the OpenMP wait policy are process-wide settings
that matter more than any option here on a shared machine (docs/performance.md).

The fast path snapshots the weights; it rebuilds itself when any encoder parameter or buffer is
modified in place, replaced, or moved to another device, so it never serves stale weights.
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import block_layers, check_input, flatten_frames
from .kernels import LinearReLU, conv3x3_one_channel, one_channel_weight

PRECISIONS = ("float32", "bfloat16")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
DEFAULT_MICRO_BATCH = 16  # windows per frontend + encoder call
BLOCK1_WINDOWS = 2  # windows per block-1 convolution: its 1.6 MB/window output stays in L2


@dataclass(frozen=True)
class InferenceOptions:
    """How ``SlicerModel`` runs inference (eval mode, no grad). All fields have safe defaults.

    ``precision``: ``"float32"`` (same numbers as the plain model up to float rounding, relative ~1e-6) or
    ``"bfloat16"`` (opt-in; within cosine 0.99999 of float32 on real audio, tests bound 0.999). ``channels_last``: NHWC convolutions.
    ``micro_batch``: windows per encoder call inside a batch (>= 1). ``compile``: wrap the fast
    encoder in ``torch.compile`` (needs a C++ compiler; first calls compile for tens of seconds).
    ``threads``: if set, ``torch.set_num_threads(threads)`` when the options are applied
    (process-wide; ``None`` leaves torch's setting alone). ``workers``: micro-batches computed
    concurrently by this many Python threads (1 = one after the other); results are identical.
    ``onednn``: on CPU, run the fully connected layers through oneDNN with packed weights (same
    numbers up to float rounding; ignored with ``compile``, which does its own packing).
    """

    precision: str = "float32"
    channels_last: bool = True
    micro_batch: int = DEFAULT_MICRO_BATCH
    compile: bool = False
    threads: int | None = None
    workers: int = 1
    onednn: bool = True

    def validate(self) -> "InferenceOptions":
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r} is not supported; choose one of {PRECISIONS}")
        if isinstance(self.micro_batch, bool) or not isinstance(self.micro_batch, int) or self.micro_batch < 1:
            raise ValueError(f"micro_batch must be an int >= 1, got {self.micro_batch!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"threads must be None or an int >= 1, got {self.threads!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {self.workers!r}")
        if not isinstance(self.onednn, bool):
            raise ValueError(f"onednn must be True or False, got {self.onednn!r}")
        return self

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.precision]


def options_from_env(environ: os._Environ | dict | None = None) -> InferenceOptions | None:
    """Options from ``SLICER_EMBED_PRECISION`` (float32|bfloat16), ``SLICER_EMBED_THREADS`` and
    ``SLICER_EMBED_WORKERS`` (integers).

    Returns ``None`` when none is set (the plain, default path). Lets scripts and the CLI opt in
    without code changes.
    """
    env = os.environ if environ is None else environ
    precision = env.get("SLICER_EMBED_PRECISION")
    ints = {field: env.get(f"SLICER_EMBED_{field.upper()}") for field in ("threads", "workers")}
    if not precision and not any(ints.values()):
        return None
    values: dict[str, int] = {}
    for field, text in ints.items():
        if text:
            try:
                values[field] = int(text)
            except ValueError:
                raise ValueError(f"SLICER_EMBED_{field.upper()}={text!r} is not an integer") from None
    return InferenceOptions(precision=precision or "float32", **values).validate()


def recommended_options(device: torch.device | str = "cpu", precision: str = "float32",
                        cores: int | None = None) -> InferenceOptions:
    """The fast-path options for a process whose job is embedding (``slicer-embed extract``).

    On CPU: one torch thread per Python worker thread and one worker per core (``cores``, default
    torch's thread count, i.e. the physical cores), so every core runs whole micro-batches with no
    OpenMP barrier between cores: as fast as OpenMP threads on an idle machine and several times
    faster on a busy one (docs/performance.md). It sets the process-wide torch thread count to 1,
    so it is meant for processes that only embed. Elsewhere (CUDA, MPS): just the precision.
    """
    if torch.device(device).type != "cpu":
        return InferenceOptions(precision=precision).validate()
    cores = cores or torch.get_num_threads()
    return InferenceOptions(precision=precision, threads=1, workers=max(1, cores)).validate()


def cpu_has_native_bfloat16(capability: dict[str, Any] | None = None) -> bool:
    """Whether this CPU computes bfloat16 natively (AMX-BF16 tiles or AVX512-BF16 instructions).

    ``capability`` is torch's CPU feature dict (``torch._C._cpu._get_cpu_capability()``, a private
    API, hence the fallback to ``/proc/cpuinfo``); pass one to test the decision.
    """
    if capability is None:
        try:
            capability = dict(torch._C._cpu._get_cpu_capability())
        except (AttributeError, RuntimeError, TypeError):
            capability = cpu_flags()
    return bool(capability.get("amx_bf16") or capability.get("avx512_bf16"))


def cpu_flags() -> dict[str, bool]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (x86 ``flags``, ARM ``Features``); {} elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return {flag: True for flag in line.split(":", 1)[1].split()}
    except OSError:
        pass
    return {}


def warn_if_bfloat16_is_emulated(options: InferenceOptions, device: torch.device,
                                 capability: dict[str, Any] | None = None) -> bool:
    """Warn (and return True) when bfloat16 is asked for on a CPU that would emulate it."""
    if options.precision != "bfloat16" or device.type != "cpu" or cpu_has_native_bfloat16(capability):
        return False
    warnings.warn("precision='bfloat16' on a CPU without AMX-BF16 or AVX512-BF16: bfloat16 is emulated "
                  "there and usually slower than the float32 fast path (model.optimize('float32'))",
                  RuntimeWarning, stacklevel=3)
    return True


# -------------------------------------------------------------------------------------------------
# Pure functions
# -------------------------------------------------------------------------------------------------

def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode ``bn(conv(x))`` as one convolution: returns (weight (O, I, kh, kw), bias (O,)) float32.

    ``w' = w * g / sqrt(var + eps)``, ``b' = (b - mean) * g / sqrt(var + eps) + beta``, computed in
    float64 so that the only error left is the final rounding to float32.
    """
    if not bn.track_running_stats or bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics")
    var = bn.running_var.detach().double()
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    shift = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(scale)
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(scale)
    weight = conv.weight.detach().double() * scale[:, None, None, None]
    bias = (bias - bn.running_mean.detach().double()) * scale + shift
    return weight.float(), bias.float()


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """``F.max_pool2d(x, 2)`` (floor mode) on (B, C, H, W), bit for bit, as two element-wise maxima."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


# -------------------------------------------------------------------------------------------------
# The fast encoder
# -------------------------------------------------------------------------------------------------

class FastEncoder:
    """A folded, frozen copy of an ``AudioNTT2020`` encoder for inference.

    Call it with a normalised log-mel (B, 1, n_mels, T) float32 -> frames (B, T // 8, D) float32,
    on the device the encoder was on when it was built. Not an ``nn.Module`` on purpose: it must not
    show up in the model's ``state_dict`` or be moved by ``model.to()`` (it is rebuilt instead).
    """

    def __init__(self, encoder: nn.Module, options: InferenceOptions):
        self.options = options.validate()
        self.n_mels = encoder.cfg.n_mels
        self.stamp = weights_stamp(encoder)
        dtype = options.dtype
        fmt = torch.channels_last if options.channels_last else torch.contiguous_format
        self.convs: list[tuple[torch.Tensor, torch.Tensor]] = []
        for i, block in enumerate(encoder.conv_blocks()):
            conv, bn, pool = block_layers(block)
            _check_pool(pool)
            w, b = fold_conv_bn(conv, bn)
            # Block 1 has one input channel: memory-bound, and its input is the raw log-mel, so it
            # stays float32 in every precision.
            dt = torch.float32 if i == 0 else dtype
            self.convs.append((w.to(dtype=dt).contiguous(memory_format=fmt), b.to(dt)))
        w0, _ = self.convs[0]
        self.block1_weight9 = one_channel_weight(w0) if options.channels_last and w0.shape[1] == 1 else None
        fc1, _, fc2 = encoder.fc_layers()  # dropout: the identity in eval mode
        # Packed oneDNN weights are opaque tensors that torch.compile cannot trace; it packs its own.
        pack = options.onednn and not options.compile
        rows = options.micro_batch * _frames_per_window(encoder)
        self.linears = [LinearReLU(fc.weight.detach().to(dtype).contiguous(), fc.bias.detach().to(dtype),
                                   rows=rows, pack=pack) for fc in (fc1, fc2)]
        self._run: Callable[[torch.Tensor], torch.Tensor] = self._encode
        if options.compile:
            self._run = torch.compile(self._encode, dynamic=False)

    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        check_input(log_mel, self.n_mels)
        return self._run(log_mel)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.options.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        (w0, b0), rest = self.convs[0], self.convs[1:]
        # Block 1's full-resolution output (64 channels x 64 x 97 floats = 1.6 MB per window) is the
        # biggest tensor of the network: produce and pool it a couple of windows at a time so that it
        # never leaves the L2 cache.
        if self.block1_weight9 is not None:
            parts = [F.relu_(max_pool_2x2(conv3x3_one_channel(c, self.block1_weight9, b0)))
                     for c in x.split(BLOCK1_WINDOWS)]
        else:
            parts = [F.relu_(max_pool_2x2(F.conv2d(c, w0, b0, padding=1))) for c in x.split(BLOCK1_WINDOWS)]
        x = parts[0] if len(parts) == 1 else torch.cat(parts)
        for w, b in rest:
            x = F.relu_(max_pool_2x2(F.conv2d(x.to(w.dtype), w, b, padding=1)))
        x = flatten_frames(x)
        for linear in self.linears:  # dropout is the identity in eval mode
            x = linear(x.to(linear.weight.dtype))
        return x.float()


def _check_pool(pool: nn.Module) -> None:
    """``max_pool_2x2`` stands for the block's pool: refuse a module whose pool is another one."""
    if not (isinstance(pool, nn.MaxPool2d) and pool.kernel_size in (2, (2, 2)) and pool.stride in (2, (2, 2))
            and pool.padding in (0, (0, 0)) and pool.dilation in (1, (1, 1)) and not pool.ceil_mode):
        raise ValueError(f"the fast path computes a 2x2, stride-2 max-pool; this encoder has {pool}")


def _frames_per_window(encoder: nn.Module, window_frames: int = 96) -> int:
    """Encoder output frames per 0.96 s window: one per 2**n_blocks log-mel frames (a packing hint)."""
    return max(1, window_frames // 2 ** len(list(encoder.conv_blocks())))


def weights_stamp(module: nn.Module) -> tuple[Any, ...]:
    """Identity of a module's weights: (name, storage address, in-place version, device) per tensor."""
    return tuple((name, t.data_ptr(), _version(t), t.device)
                 for name, t in list(module.named_parameters()) + list(module.named_buffers()))


def _version(t: torch.Tensor) -> int:
    try:
        return t._version
    except RuntimeError:  # inference tensors carry no version counter; storage address still counts
        return -1


def fast_forward(model: Any, options: InferenceOptions, wave: torch.Tensor) -> torch.Tensor:
    """``model(wave)`` on the fast path: (B, samples) -> frames (B, T // 8, D) float32.

    The batch is processed ``options.micro_batch`` windows at a time, frontend included, so the
    intermediate tensors stay cache-sized. ``model`` is a ``SlicerModel``; its fast encoder is built
    on first use and rebuilt when the weights change.
    """
    return _start_fast_forward(model, options, wave)()


def start_forward(model: Any, wave: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Begin ``model(wave)``; returns a function that waits for and returns the frames.

    On the fast path with ``workers > 1`` every micro-batch is queued on the worker threads at once,
    so the caller can do other work (``extract`` pools the previous batch) while the cores compute;
    otherwise the forward pass runs before this returns. Same results as ``model(wave)``.
    """
    options = getattr(model, "inference_options", None)
    if options is None or options.workers <= 1 or model.training or torch.is_grad_enabled():
        out = model(wave)
        return lambda: out
    return _start_fast_forward(model, options, wave)


def _start_fast_forward(model: Any, options: InferenceOptions, wave: torch.Tensor) -> Callable[[], torch.Tensor]:
    fast = getattr(model, "_fast_encoder", None)
    if fast is None or fast.options != options or fast.stamp != weights_stamp(model.encoder):
        if fast is None or fast.options != options:  # once per options, not at every weight change
            warn_if_bfloat16_is_emulated(options, next(model.encoder.parameters()).device)
        fast = FastEncoder(model.encoder, options)
        object.__setattr__(model, "_fast_encoder", fast)  # a plain attribute: not a submodule
    if wave.dim() != 2:
        raise ValueError(f"model expects waveforms (batch, samples), got shape {tuple(wave.shape)}")
    chunks = wave.split(options.micro_batch)
    if options.workers > 1 and len(chunks) > 1:
        def one(chunk: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():  # grad mode is per thread: workers start with grad enabled
                return fast(model.log_mel(chunk))
        pool = shared_thread_pool(options.workers)
        futures = [pool.submit(one, chunk) for chunk in chunks]
        return lambda: _cat([f.result() for f in futures])
    out = _cat([fast(model.log_mel(chunk)) for chunk in chunks])
    return lambda: out


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)


_POOLS: dict[tuple[str, int], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def shared_thread_pool(workers: int, name: str = "slicer-embed") -> ThreadPoolExecutor:
    """The process's thread pool of ``workers`` threads named ``name``_N: created on first use,
    reused by every caller, and forgotten in a forked child (whose copy would have no threads)."""
    with _POOLS_LOCK:
        if (name, workers) not in _POOLS:
            # A new thread's first torch op sets its thread count, which touches torch's
            # pthreadpool. In a forked child whose parent had used that pool, the first touch
            # rebuilds it, unguarded: two workers racing there crashed with "pool INTERNAL ASSERT
            # FAILED ... Invalid thread pool!". Touch it here first, from one thread.
            torch.set_num_threads(torch.get_num_threads())
            _POOLS[(name, workers)] = ThreadPoolExecutor(workers, thread_name_prefix=name)
        return _POOLS[(name, workers)]


def _forget_pools_in_child() -> None:
    # A forked child (e.g. a DataLoader worker) inherits the pool objects but not their threads:
    # work submitted to them would never run. It also inherits the lock in whatever state it was.
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def apply_threads(options: InferenceOptions) -> None:
    """Set torch's intra-op thread count when the options ask for one (process-wide)."""
    if options.threads is not None:
        torch.set_num_threads(options.threads)
