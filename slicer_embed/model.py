"""``SlicerModel``: frontend + encoder, and the embedding API on top of them.

Shapes and units: waveforms are mono float samples in [-1, 1] (integer PCM is scaled) at
``model.sample_rate`` (16 kHz) unless ``sample_rate`` says otherwise, in which case they are
resampled with soxr. Frame embeddings come every ``model.frame_hop_seconds`` (80 ms); clip
embeddings pool all frames of a clip (``mean+max`` by default, see ``config.POOLINGS``).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from . import audio as _audio
from . import hub as _hub
from . import runtime as _runtime
from .config import POOLINGS, ModelConfig
from .encoder import AudioNTT2020
from .frontend import LogMelFrontend, normalize
from .streaming import EmbeddingStream
from .windows import Frames, iter_windows, valid_frames

DEFAULT_BATCH_SIZE = 64  # windows per forward pass (about a minute of audio): bounds memory


class SlicerModel(nn.Module):
    """A SLICER encoder with its log-mel frontend and input contract.

    Build it with ``slicer_embed.load(...)`` (pretrained) or ``slicer_embed.create_model()``
    (random weights). ``forward`` maps a batch of waveform windows (batch, samples) to frame
    features (batch, frames, D) and is what training uses; ``embed``/``embed_frames``/``embed_file``
    are the inference API (eval mode, no grad, any length, any rate, batch-invariant).
    """

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = (config or ModelConfig()).validate()
        self.frontend = LogMelFrontend(self.config.frontend)
        self.encoder = AudioNTT2020(self.config.architecture)
        self.source = "random-init"  # where the weights came from: a folder, a Hub repo, ...
        self.revision: str | None = None  # resolved Hub commit for Hub models
        self._warned_no_rate = False
        # Opt-in fast inference path (slicer_embed/runtime.py); None = the plain module graph.
        self._inference_options: _runtime.InferenceOptions | None = None
        env_options = _runtime.options_from_env()
        if env_options is not None:
            self.set_inference_options(env_options)
        self.eval()

    # -- the input contract ----------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.frontend.sample_rate

    @property
    def embedding_dim(self) -> int:
        return self.config.architecture.embedding_dim

    # HEAR API attribute names.
    scene_embedding_size = embedding_dim
    timestamp_embedding_size = embedding_dim

    @property
    def frame_hop_seconds(self) -> float:
        return self.config.frame_hop_samples / self.sample_rate

    @property
    def window_seconds(self) -> float:
        return self.config.window_samples / self.sample_rate

    @property
    def pooling(self) -> str:
        return self.config.inference.pooling

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- training-facing forward -----------------------------------------------------------------
    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> normalised log-mel (batch, 1, n_mels, frames)."""
        norm = self.config.normalization
        return normalize(self.frontend(wave), norm.mean, norm.std).unsqueeze(1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(batch, samples) waveforms at ``sample_rate`` -> frame features (batch, frames // 8, D).

        In eval mode without grad and with inference options set (``optimize``), this runs the fast
        path of ``slicer_embed.runtime``; training and autograd always take the plain graph.
        """
        options = getattr(self, "_inference_options", None)
        if options is not None and not self.training and not torch.is_grad_enabled():
            return _runtime.fast_forward(self, options, wave)
        return self.encoder(self.log_mel(wave))

    # -- fast inference (slicer_embed/runtime.py) -------------------------------------------------
    @property
    def inference_options(self) -> "_runtime.InferenceOptions | None":
        """The options of the fast inference path, or None for the plain (default) path."""
        return getattr(self, "_inference_options", None)

    def set_inference_options(self, options: "_runtime.InferenceOptions | None") -> "SlicerModel":
        """Use ``options`` for eval/no-grad forward passes (None: back to the plain path). Returns self.

        The environment variables ``SLICER_EMBED_PRECISION`` / ``SLICER_EMBED_THREADS`` set these
        options for every model a process creates.
        """
        if options is not None:
            options = options.validate()
            _runtime.apply_threads(options)
        self._inference_options = options
        object.__setattr__(self, "_fast_encoder", None)
        return self

    def optimize(self, precision: str = "float32", **options: Any) -> "SlicerModel":
        """Turn on the fast inference path; returns self.

        ``precision="float32"`` gives the plain model's embeddings up to float rounding (relative ~1e-6);
        ``"bfloat16"`` is faster on CPUs with AMX/avx512_bf16: within cosine 0.99999 of float32 on real audio
        (measured, docs/performance.md; the tests bound it at 0.999).
        Other keywords are ``slicer_embed.runtime.InferenceOptions`` fields (``micro_batch``,
        ``channels_last``, ``compile``, ``threads``, ``workers``, ``onednn``).

        >>> model = slicer_embed.create_model().optimize("bfloat16")   # doctest: +SKIP
        """
        return self.set_inference_options(_runtime.InferenceOptions(precision=precision, **options))

    # -- inference API --------------------------------------------------------------------------
    def embed(self, audio: Any, sample_rate: int | None = None, *, pooling: str | None = None,
              batch_size: int = DEFAULT_BATCH_SIZE) -> Any:
        """Clip embeddings.

        ``audio``: 1-D (samples,) -> (D,); 2-D (clips, samples) -> (clips, D); a list of 1-D arrays of
        any lengths -> (clips, D). numpy in -> float32 numpy out; torch in -> float32 tensor on the
        input's device. ``sample_rate`` defaults to the model's (with a one-time warning).
        """
        pooling = self._check_pooling(pooling)
        clips, like, single = self._prepare(audio, sample_rate)
        out = self._pool_sources(((i, [c]) for i, c in enumerate(clips)), len(clips), pooling, batch_size)
        return _format(out[0] if single else out, like)

    def embed_frames(self, audio: Any, sample_rate: int | None = None, *, hop_seconds: float | None = None,
                     batch_size: int = DEFAULT_BATCH_SIZE) -> Frames:
        """Frame embeddings and their centre times in seconds.

        Returns ``Frames(embeddings, timestamps)``: for one clip (T, D) and (T,); for a 2-D batch
        (clips, T, D) and (clips, T); for a list, lists of those. ``hop_seconds`` defaults to the
        encoder stride (0.08 s); 0.04, 0.02 and 0.01 s are computed exactly by re-running the encoder
        on shifted copies of the audio (cost grows as 0.08 / hop). Timestamps are window centres
        ``(0.035 + k * hop)`` s at 16 kHz, and never lie past the end of the clip (except the single
        frame of a clip shorter than 35 ms).
        """
        passes, shift = self._hop_passes(hop_seconds)
        clips, like, single = self._prepare(audio, sample_rate)
        sources = (((i, p), [c[p * shift:]]) for i, c in enumerate(clips) for p in range(passes))
        frames: dict[tuple[int, int], list[torch.Tensor]] = {}
        for key, f in self._frame_stream(sources, batch_size, first_frame_keys=lambda k: k[1] == 0):
            frames.setdefault(key, []).append(f.cpu())
        embs, times = [], []
        stride, hop = self.config.architecture.time_stride, self.config.frontend.hop_length
        for i in range(len(clips)):
            per_pass = [torch.cat(frames[(i, p)]) if (i, p) in frames else torch.zeros(0, self.embedding_dim)
                        for p in range(passes)]
            n = sum(len(x) for x in per_pass)
            e = torch.empty(n, self.embedding_dim)
            for p, x in enumerate(per_pass):
                e[p::passes][:len(x)] = x
            t = (hop * (stride - 1) / 2.0 + shift * np.arange(n, dtype=np.float64)) / self.sample_rate
            embs.append(e)
            times.append(t)
        if single:
            return Frames(_format(embs[0], like), _format_time(times[0], like))
        if isinstance(audio, (list, tuple)):
            return Frames([_format(e, like) for e in embs], [_format_time(t, like) for t in times])
        return Frames(_format(torch.stack(embs), like), _format_time(np.stack(times), like))

    def stream(self, sample_rate: int, *, batch_size: int = 16) -> EmbeddingStream:
        """A live-audio embedder: ``push(chunk)`` returns the ``Frames`` of the windows each chunk
        completes (numpy, timestamps in seconds from the start), ``flush()`` the rest. Together they
        equal ``embed_frames`` of the whole signal (80 ms frames). See ``slicer_embed.streaming``.

        >>> stream = model.stream(sample_rate=48000)            # doctest: +SKIP
        >>> for chunk in microphone: frames = stream.push(chunk)  # doctest: +SKIP
        """
        return EmbeddingStream(self, sample_rate, batch_size=batch_size)

    def embed_file(self, path: str | os.PathLike, *, pooling: str | None = None,
                   batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Clip embedding (D,) float32 of an audio file (any format libsndfile reads; channels averaged).

        The file is decoded and resampled in blocks, so memory does not grow with its length.
        Raises ``AudioDecodeError`` naming the file when it cannot be decoded or holds no audio.
        """
        return self.embed_files([path], pooling=pooling, batch_size=batch_size)[0]

    def embed_files(self, paths: Sequence[str | os.PathLike], *, pooling: str | None = None,
                    batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Clip embeddings (N, D) float32 of N files, windows of several files batched together.

        Stops at the first bad file with an ``AudioDecodeError`` naming it; ``slicer-embed extract``
        is the tool for large collections that must skip bad files and resume.
        """
        if isinstance(paths, (str, os.PathLike)):
            raise TypeError("embed_files takes a list of paths; use embed_file for one path")
        pooling = self._check_pooling(pooling)
        sources = ((i, _audio.stream_audio(p, self.sample_rate)) for i, p in enumerate(paths))
        return self._pool_sources(sources, len(paths), pooling, batch_size).numpy()

    # -- saving ---------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, *, model_card: str | None = None) -> None:
        """Write ``config.json`` + ``model.safetensors`` (+ ``README.md`` if given) into ``directory``."""
        _hub.save_pretrained(self, directory, model_card=model_card)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload the model to a Hub repo (``huggingface_hub`` upload API); returns the commit URL.

        Keyword arguments: ``revision``, ``private``, ``token``, ``commit_message``, ``model_card``.
        """
        return _hub.push_to_hub(self, repo_id, **kwargs)

    # -- internals ------------------------------------------------------------------------------
    def _check_pooling(self, pooling: str | None) -> str:
        pooling = pooling or self.pooling
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
        return pooling

    def _hop_passes(self, hop_seconds: float | None) -> tuple[int, int]:
        native = self.config.frame_hop_samples
        if hop_seconds is None:
            return 1, native
        hop = hop_seconds * self.sample_rate
        stride = self.config.architecture.time_stride
        allowed = [native // k for k in range(1, stride + 1) if stride % k == 0]
        for k in range(1, stride + 1):
            if stride % k == 0 and abs(hop - native / k) < 1e-6 * native:
                return k, native // k
        raise ValueError(f"hop_seconds={hop_seconds} is not supported; choose one of "
                         f"{[a / self.sample_rate for a in allowed]}")

    def _prepare(self, audio: Any, sample_rate: int | None) -> tuple[list[np.ndarray], Any, bool]:
        if sample_rate is not None:
            sample_rate = _audio.check_sample_rate(sample_rate)
        if isinstance(audio, (bytes, bytearray, memoryview)):
            raise TypeError("audio is bytes; decode it first (soundfile.read(io.BytesIO(data))) or pass the "
                            "file path to model.embed_file")
        if _is_audio_value(audio):  # one Hugging Face datasets Audio value: it carries its own rate
            clip, rate = _audio_value(audio, "audio", sample_rate, self.sample_rate)
            raw, rates, single, like = [clip], [rate], True, _kind(clip)
        elif isinstance(audio, (list, tuple)) and audio and all(_is_audio_value(a) for a in audio):
            pairs = [_audio_value(a, f"audio[{i}]", sample_rate, self.sample_rate) for i, a in enumerate(audio)]
            raw, rates, single, like = [p[0] for p in pairs], [p[1] for p in pairs], False, _kind(pairs[0][0])
        else:
            if isinstance(audio, (list, tuple)) and audio and all(_is_number(a) for a in audio):
                if all(isinstance(a, (int, np.integer)) for a in audio):
                    raise ValueError("audio is a flat list of integers, which is ambiguous as PCM: pass "
                                     "np.asarray(values, np.int16) for 16-bit PCM, or floats in [-1, 1]")
                audio = np.asarray(audio, dtype=np.float32)  # a flat list of float samples is one clip
            raw, single, like = self._arrays(audio)
            rates = [None] * len(raw)
        if any(r is None for r in rates):
            default = sample_rate if sample_rate is not None else self._assumed_rate()
            rates = [default if r is None else r for r in rates]
        names = ["audio"] if single else [f"audio[{i}]" for i in range(len(raw))]
        clips = []
        for name, a, sr in zip(names, raw, rates):
            a = _audio.to_numpy(a, name)
            if a.ndim != 1:
                raise ValueError(f"{name} has shape {a.shape}; list items must be 1-D clips (samples,) (a flat "
                                 f"list of numbers is taken as one clip, but this list mixes types)")
            x = _audio.check_clip(_audio.to_float32(a, name), name)
            _audio.warn_if_clipped(x, name)
            clips.append(_audio.resample(x, sr, self.sample_rate, name))
        return clips, like, single

    @staticmethod
    def _arrays(audio: Any) -> tuple[list[Any], bool, Any]:
        """(clips, single, like) of an array, a batch or a list of arrays."""
        if isinstance(audio, (list, tuple)):
            if len(audio) == 0:
                raise ValueError("audio is an empty list; pass at least one clip")
            return [_audio.to_numpy(a, f"audio[{i}]") for i, a in enumerate(audio)], False, _kind(audio[0])
        like = _kind(audio)
        a = _audio.to_numpy(audio, "audio")
        _audio.check_layout(a.shape)
        if a.ndim == 2 and a.shape[0] == 0:
            raise ValueError(f"audio is an empty batch (shape {a.shape})")
        return ([a] if a.ndim == 1 else list(a)), a.ndim == 1, like

    def _assumed_rate(self) -> int:
        if not self._warned_no_rate:
            warnings.warn(f"sample_rate was not given; assuming the model's {self.sample_rate} Hz. "
                          f"Pass sample_rate= to resample other rates.", UserWarning, stacklevel=4)
            self._warned_no_rate = True
        return self.sample_rate

    def _frame_stream(self, sources: Iterable[tuple[Any, Iterable[np.ndarray]]], batch_size: int,
                      first_frame_keys: Any = None) -> Iterator[tuple[Any, torch.Tensor]]:
        """Yield (key, frames (k, D)) per window of each source, windows batched across sources."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        cfg = self.config
        W, F = cfg.window_samples, cfg.frames_per_window
        stride, hop = cfg.architecture.time_stride, cfg.frontend.hop_length

        def windows() -> Iterator[tuple[Any, np.ndarray, int]]:
            for key, chunks in sources:
                first = True
                for win, n_valid in iter_windows(chunks, W):
                    k = valid_frames(n_valid, F, hop, stride)
                    if first and (first_frame_keys is None or first_frame_keys(key)):
                        k = max(k, 1)  # every clip keeps at least one frame
                    first = False
                    if k:
                        yield key, win, k

        batch: list[tuple[Any, np.ndarray, int]] = []
        for item in windows():
            batch.append(item)
            if len(batch) == batch_size:
                yield from self._run_batch(batch)
                batch = []
        if batch:
            yield from self._run_batch(batch)

    @torch.inference_mode()
    def _run_batch(self, batch: list[tuple[Any, np.ndarray, int]]) -> Iterator[tuple[Any, torch.Tensor]]:
        if self.training:
            raise RuntimeError("embedding APIs need eval mode; call model.eval() after training")
        x = torch.from_numpy(np.stack([w for _, w, _ in batch])).to(self.device)
        frames = self(x)
        for (key, _, k), f in zip(batch, frames):
            yield key, f[:k]

    def _pool_sources(self, sources: Iterable[tuple[int, Iterable[np.ndarray]]], n: int, pooling: str,
                      batch_size: int) -> torch.Tensor:
        """Pool every source's frames into one clip embedding; (n, D) float32 on the CPU."""
        D = self.embedding_dim
        total = torch.zeros(n, D, dtype=torch.float64, device=self.device)
        peak = torch.full((n, D), -torch.inf, device=self.device)
        count = torch.zeros(n, dtype=torch.float64, device=self.device)
        for i, f in self._frame_stream(sources, batch_size):
            total[i] += f.sum(0, dtype=torch.float64)
            peak[i] = torch.maximum(peak[i], f.amax(0))
            count[i] += len(f)
        mean = (total / count[:, None]).float()
        out = {"mean": mean, "max": peak, "mean+max": mean + peak}[pooling]
        return out.cpu()


def _kind(a: Any) -> Any:
    return a.device if isinstance(a, torch.Tensor) else "np"


def _is_audio_value(a: Any) -> bool:
    """A Hugging Face ``datasets`` Audio value: decoded, ``{"array", "sampling_rate"}`` (datasets < 4) or
    an object with ``get_all_samples()`` (datasets >= 4 decodes to a torchcodec ``AudioDecoder``); or
    undecoded (``Audio(decode=False)``), ``{"bytes", "path"}``."""
    return (isinstance(a, Mapping) and ("array" in a or _is_undecoded(a))) \
        or callable(getattr(a, "get_all_samples", None))


def _is_undecoded(a: Any) -> bool:
    return isinstance(a, Mapping) and "array" not in a and ("bytes" in a or "path" in a)


def _audio_value(a: Any, what: str, sample_rate: int | None, model_rate: int = 16000) -> tuple[Any, int | None]:
    """(1-D clip, its rate) of a datasets Audio value; channels (first axis) are averaged. An undecoded
    value is decoded here by ``audio.decode_value`` (libsndfile: no torchcodec or FFmpeg needed) straight
    to ``model_rate``."""
    if _is_undecoded(a):
        clip, rate = _audio.decode_value(a, model_rate, what)
        if sample_rate is not None and rate != sample_rate:
            raise ValueError(f"{what} is a file at {rate} Hz but sample_rate={sample_rate} was passed; drop the "
                             f"argument (the file carries its own rate)")
        return clip, model_rate
    if isinstance(a, Mapping):
        clip = a["array"]
        rate = a.get("sampling_rate", a.get("sample_rate"))
    else:
        samples = a.get_all_samples()
        clip, rate = samples.data, samples.sample_rate
    arr = _audio.to_numpy(clip, f"{what}['array']")
    if arr.ndim == 2 and (arr.shape[0] == 1 or arr.shape[0] <= 8 < arr.shape[1]):  # (channels, samples)
        arr = arr.mean(axis=0)
    if rate is not None:
        rate = _audio.check_sample_rate(rate, f"{what}['sampling_rate']")
        if sample_rate is not None and rate != sample_rate:
            raise ValueError(f"{what} says sampling_rate={rate} but sample_rate={sample_rate} was passed; "
                             f"drop the argument (the value carries its own rate)")
    return (clip if isinstance(clip, torch.Tensor) and arr.ndim == clip.dim() else arr), rate


def _is_number(a: Any) -> bool:
    return isinstance(a, (int, float, np.integer, np.floating)) and not isinstance(a, bool)


def _format(t: torch.Tensor, like: Any) -> Any:
    if like == "np":
        return t.cpu().numpy().astype(np.float32, copy=False)
    return t.to(device=like, dtype=torch.float32)


def _format_time(t: np.ndarray, like: Any) -> Any:
    return t if like == "np" else torch.from_numpy(t).to(like)
