"""Live audio: ``model.stream(sample_rate)`` embeds a signal that arrives in chunks of any size.

The encoder's windows are independent 0.96 s pieces, so a stream is exact: ``push(chunk)`` resamples
the chunk (soxr's streaming resampler, the one ``embed_file`` uses), and returns the frames of every
window it completed, possibly none; ``flush()`` embeds the rest (the last window zero-padded, frames
whose centre lies past the end dropped, a stream shorter than 35 ms keeping one frame), exactly as
``embed_frames`` on the whole signal. Concatenated, the outputs equal ``embed_frames`` of the whole
signal (tests/test_streaming.py), with timestamps in seconds from the start of the stream.

State is a partial window (< 0.96 s of audio) and the resampler's, so memory is constant however long
the stream runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import soxr
import torch

from . import audio as _audio
from .windows import Frames, frame_centres, valid_frames


class EmbeddingStream:
    """Push chunks of a mono signal at ``sample_rate``; get ``Frames(embeddings (n, D), timestamps (n,))``.

    Created by ``SlicerModel.stream``. Not thread-safe; one stream per signal.
    """

    def __init__(self, model: Any, sample_rate: int, batch_size: int = 16):
        self.model = model
        self.sample_rate = _audio.check_sample_rate(sample_rate)
        _audio.check_ratio(self.sample_rate, model.sample_rate, "stream")
        cfg = model.config
        self._window, self._frames = cfg.window_samples, cfg.frames_per_window
        self._hop, self._stride = cfg.frontend.hop_length, cfg.architecture.time_stride
        self._batch = max(1, int(batch_size))
        self._resampler = None if self.sample_rate == model.sample_rate else soxr.ResampleStream(
            self.sample_rate, model.sample_rate, 1, dtype="float32", quality=_audio.RESAMPLE_QUALITY)
        self._pending = np.zeros(0, np.float32)  # resampled samples not yet in a whole window
        self._windows = 0  # windows embedded so far
        self._received = 0  # input samples
        self._emitted = 0  # resampled samples
        self._sum = 0.0  # of the input, for a stream shorter than one output sample
        self._closed = False

    @property
    def seconds(self) -> float:
        """Duration pushed so far, in seconds of input."""
        return self._received / self.sample_rate

    def push(self, chunk: Any):
        """Add a 1-D chunk (numpy or torch, float in [-1, 1] or integer PCM; any length, even 0).

        Returns the ``Frames`` of the windows this chunk completed (numpy; (0, D) when none)."""
        if self._closed:
            raise RuntimeError("this stream was flushed; start a new one with model.stream(...)")
        x = _chunk(chunk)
        if x.size == 0:
            return self._empty()
        self._received += len(x)
        self._sum += float(x.sum(dtype=np.float64))
        y = x if self._resampler is None else self._resampler.resample_chunk(x, last=False)
        return self._emit(np.asarray(y, np.float32), final=False)

    def flush(self):
        """End of the signal: the frames of the last (zero-padded) window. The stream is closed after."""
        if self._closed:
            raise RuntimeError("this stream was already flushed")
        self._closed = True
        tail = np.zeros(0, np.float32)
        if self._resampler is not None and self._received:
            tail = np.asarray(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True), np.float32)
        if self._received and self._emitted + len(tail) == 0:  # shorter than one output sample
            tail = np.asarray([self._sum / self._received], np.float32)
        return self._emit(tail, final=True)

    # -- internals -------------------------------------------------------------------------------
    def _emit(self, y: np.ndarray, final: bool):
        self._emitted += len(y)
        buf = np.concatenate([self._pending, y]) if len(self._pending) else y
        n_whole = len(buf) // self._window
        items = [(self._windows + w, buf[w * self._window:(w + 1) * self._window], self._frames)
                 for w in range(n_whole)]
        rest = buf[n_whole * self._window:]
        self._pending = np.array(rest, np.float32)  # a copy: the caller's chunk may be reused
        if final and len(rest):
            k = valid_frames(len(rest), self._frames, self._hop, self._stride)
            if self._windows + n_whole == 0:
                k = max(k, 1)  # every signal keeps at least one frame
            win = np.zeros(self._window, np.float32)
            win[:len(rest)] = rest
            if k:
                items.append((self._windows + n_whole, win, k))
            self._pending = np.zeros(0, np.float32)
        self._windows += n_whole
        if not items:
            return self._empty()
        out = []
        for lo in range(0, len(items), self._batch):
            out += [f.cpu() for _, f in self.model._run_batch(items[lo:lo + self._batch])]
        emb = torch.cat(out).numpy().astype(np.float32, copy=False)
        first = items[0][0] * self._frames
        centres = frame_centres(first + len(emb), self._hop, self._stride)[first:]
        return Frames(emb, centres / self.model.sample_rate)

    def _empty(self):
        return Frames(np.zeros((0, self.model.embedding_dim), np.float32), np.zeros(0, np.float64))


def _chunk(chunk: Any) -> np.ndarray:
    """A pushed chunk as 1-D float32 numpy, validated like any clip (finite, sane peak)."""
    a = _audio.to_numpy(chunk, "chunk")
    if a.ndim != 1:
        raise ValueError(f"a stream chunk must be 1-D (samples,), got shape {a.shape}; downmix channels first")
    if a.size == 0:
        return np.zeros(0, np.float32)
    x = _audio.to_float32(a, "chunk")
    return _audio.check_clip(np.ascontiguousarray(x), "chunk")
