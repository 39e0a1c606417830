"""Audio input: validation of in-memory arrays, resampling (soxr) and file decoding (soundfile).

Everything returns mono float32 numpy at the requested rate. Problems raise ``ValueError`` (bad
arrays or rates) or ``AudioDecodeError`` (files) with a message that names the file, the shape,
the dtype or the rate at fault.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import soundfile as sf
import soxr

from .paths import display, to_bytes

RESAMPLE_QUALITY = "HQ"  # fixed so that results are reproducible across calls and machines
MAX_CHANNELS_HEURISTIC = 8  # a 2-D array with <= this many columns and more rows is (samples, channels)

_INT_SCALE = {np.dtype(np.int8): 128.0, np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


class AudioDecodeError(ValueError):
    """A file that cannot be turned into audio samples (missing, unreadable, empty, not audio)."""


def to_numpy(a: Any, what: str = "audio") -> np.ndarray:
    """An in-memory clip as numpy: a torch tensor (any device; float16/bfloat16 as float32), a numpy array
    as it is, anything else through ``np.asarray``. A path is refused with a pointer to the file methods."""
    torch = sys.modules.get("torch")  # a tensor exists only where torch is loaded: this module never loads it
    if torch is not None and isinstance(a, torch.Tensor):
        a = a.detach()
        if a.dtype in (torch.float16, torch.bfloat16):
            a = a.float()
        return a.cpu().numpy()
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, (str, os.PathLike)):
        raise TypeError(f"{what} is a path ({a!r}); use model.embed_file(path) for files")
    try:
        return np.asarray(a)
    except Exception as e:
        raise TypeError(f"{what} must be a numpy array or torch tensor, got {type(a).__name__}") from e


def check_sample_rate(sample_rate: object, what: str = "sample_rate") -> int:
    """Return ``sample_rate`` as a positive int or raise ``ValueError`` naming it."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a positive number of samples per second, got {sample_rate!r}")
    if not np.isfinite(sample_rate) or sample_rate <= 0:
        raise ValueError(f"{what} must be a positive number of samples per second, got {sample_rate!r}")
    if float(sample_rate) != int(sample_rate):
        raise ValueError(f"{what} must be a whole number of Hz, got {sample_rate!r}")
    return int(sample_rate)


MAX_UPSAMPLING = 16
"""Input rates below 1/16 of the model's (1000 Hz for 16 kHz) are refused. Nothing is recorded that
slowly, so such a rate is a mistake (a duration or a frame count passed as the rate), and resampling
would invent the audio: 24,000 samples at 1 Hz would become 6.7 hours at 16 kHz (it ran for over 10
minutes at 1.9 GB); 240 samples, 4 minutes of made-up audio embedded without a word."""


def min_sample_rate(model_rate: int) -> int:
    """The lowest input rate accepted for a model at ``model_rate`` Hz (1000 Hz for 16 kHz)."""
    return -(-int(model_rate) // MAX_UPSAMPLING)


def check_ratio(sr_in: int, sr_out: int, what: str = "audio") -> None:
    """Raise ``ValueError`` when ``sr_in`` is below ``min_sample_rate(sr_out)`` (see ``MAX_UPSAMPLING``)."""
    low = min_sample_rate(sr_out)
    if sr_in < low:
        raise ValueError(f"{what}: a sample rate of {sr_in} Hz is below {low} Hz, the lowest accepted "
                         f"(1/{MAX_UPSAMPLING} of the model's {sr_out} Hz): upsampling that far would make up "
                         f"the audio; check the rate (a duration or frame count passed as the rate?)")


def to_float32(x: np.ndarray, what: str = "audio") -> np.ndarray:
    """Convert PCM of any common dtype to float32; integer PCM is scaled to [-1, 1)."""
    dt = x.dtype
    if dt == np.bool_ or np.issubdtype(dt, np.complexfloating) or not np.issubdtype(dt, np.number):
        raise ValueError(f"{what} has dtype {dt}; expected float samples in [-1, 1] or integer PCM")
    if np.issubdtype(dt, np.floating):
        return x.astype(np.float32, copy=False)
    if dt == np.uint8:  # 8-bit WAV convention: unsigned, centred on 128
        return (x.astype(np.float32) - 128.0) / 128.0
    if dt in _INT_SCALE:
        return x.astype(np.float32) / _INT_SCALE[dt]
    raise ValueError(f"{what} has dtype {dt}, which is ambiguous as PCM; convert it to float32 in "
                     f"[-1, 1] or to int16/int32 PCM first")


MAX_ABS_AMPLITUDE = 1e6
"""Peaks above this are refused: float audio is expected in [-1, 1], and amplitudes near 1e16 overflow
the float32 log-mel into NaN. (Between 1 and this, e.g. int16 values stored as floats, a warning.)"""


def check_clip(x: np.ndarray, what: str = "audio") -> np.ndarray:
    """Validate one mono clip (1-D float32): non-empty, finite, |x| <= MAX_ABS_AMPLITUDE. Returns it unchanged."""
    if x.ndim != 1:
        raise ValueError(f"{what} must be 1-D (samples,), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{what} is empty (0 samples)")
    peak = float(np.max(np.abs(x)))  # NaN or Inf if any sample is: one pass checks both
    if not np.isfinite(peak):
        bad = ~np.isfinite(x)
        first = int(np.argmax(bad))
        raise ValueError(f"{what} contains {int(bad.sum())} NaN/Inf sample(s) (first at index {first})")
    if peak > MAX_ABS_AMPLITUDE:
        raise ValueError(f"{what} peaks at {peak:.3g}; float audio is expected in [-1, 1] (scale it, e.g. "
                         f"x / 32768 for int16 values stored as floats); above {MAX_ABS_AMPLITUDE:.0e} the "
                         f"log-mel would overflow")
    return x


def check_layout(shape: tuple[int, ...], what: str = "audio") -> None:
    """Reject arrays that are not (samples,) or (clips, samples), with a hint for the usual mix-ups."""
    if len(shape) == 0:
        raise ValueError(f"{what} is a scalar; expected a 1-D waveform (samples,) or a batch (clips, samples)")
    if len(shape) > 2:
        raise ValueError(f"{what} has shape {shape}: expected 1-D (samples,) or 2-D (clips, samples); "
                         f"downmix channels and pass a list for clips of different lengths")
    if len(shape) == 2 and shape[1] <= MAX_CHANNELS_HEURISTIC and shape[0] > shape[1]:
        raise ValueError(f"{what} has shape {shape}, which looks like (samples, channels); average the "
                         f"channels (x.mean(axis=1)) or pass a file path, or pass (clips, samples)")


def resample(x: np.ndarray, sr_in: int, sr_out: int, what: str = "audio") -> np.ndarray:
    """Resample a 1-D float32 clip with soxr (HQ). Returns the input unchanged when rates match.
    Raises ``ValueError`` naming ``what`` for an ``sr_in`` below ``min_sample_rate(sr_out)``."""
    if sr_in == sr_out:
        return x
    check_ratio(sr_in, sr_out, what)
    y = soxr.resample(x, sr_in, sr_out, quality=RESAMPLE_QUALITY)
    if y.size == 0 and x.size > 0:
        # a clip shorter than one output sample (1 sample at 48 kHz -> 16 kHz) still has a duration:
        # keep one sample (its mean), so every non-empty clip is embedded at every rate
        y = np.asarray([x.mean()], dtype=np.float32)
    return np.ascontiguousarray(y, dtype=np.float32)


def warn_if_clipped(x: np.ndarray, what: str = "audio") -> None:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 1.0 + 1e-6:
        warnings.warn(f"{what} peaks at {peak:.3g}; float audio is expected in [-1, 1] "
                      f"(embeddings of louder input are off the training distribution)", stacklevel=3)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

def file_kind(mode: int) -> str:
    """``"a FIFO"``, ``"a socket"``, ... for a ``st_mode`` that is not a regular file's."""
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return kind
    return "not a file"


def _open(path: str | os.PathLike) -> sf.SoundFile:
    p = Path(path)
    name = display(p)  # messages are valid UTF-8 even for names that are not
    try:
        st = os.stat(to_bytes(p))
    except FileNotFoundError:
        raise AudioDecodeError(f"{name}: no such file") from None
    except OSError as e:  # a symlink loop (ELOOP), no permission to a folder on the way, ...
        raise AudioDecodeError(f"{name}: cannot read ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioDecodeError(f"{name}: is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):  # never opened: a FIFO would block until someone writes to it
        raise AudioDecodeError(f"{name}: not a regular file ({file_kind(st.st_mode)})")
    if st.st_size == 0:
        raise AudioDecodeError(f"{name}: file is empty (0 bytes)")
    try:
        f = sf.SoundFile(to_bytes(p))  # bytes: soundfile cannot encode undecodable names itself
    except Exception as e:  # libsndfile's own message says what it could not parse
        why = _libsndfile_reason(e)
        if "does not exist" in why:  # libsndfile's wording for some unrecognised data (e.g. text as .mp3)
            why = "format not recognised"
        raise AudioDecodeError(f"{name}: cannot decode as audio ({why})") from e
    if f.format in ("WAV", "WAVEX"):
        missing = _wav_missing_bytes(p)
        if missing:
            f.close()
            raise AudioDecodeError(f"{name}: truncated WAV file: its header declares {missing:,} more bytes "
                                   "of audio than the file holds")
    return f


def _wav_missing_bytes(p: Path) -> int:
    """Bytes of the ``data`` chunk a RIFF/WAVE header declares but the file lacks (0 if complete).

    libsndfile silently shortens a truncated WAV to what is there, so a half-copied file would
    embed as a shorter clip; we report it instead. Streaming writers' placeholder sizes (0 and
    0xFFFFFFFF) are not taken as declarations.
    """
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(65536)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return 0
    pos = 12
    while pos + 8 <= len(head):
        cid, n = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if cid == b"data":
            if n in (0, 0xFFFFFFFF):
                return 0
            return max(0, n - (size - (pos + 8)))
        pos += 8 + n + (n & 1)  # chunks are word-aligned
    return 0


def _libsndfile_reason(e: BaseException) -> str:
    """libsndfile's reason alone: soundfile's message starts with the name as Python bytes
    (``Error opening b'x.wav': ...``), which the caller already shows as text."""
    reason = getattr(e, "error_string", None)
    if isinstance(reason, str) and reason.strip():
        return reason.strip()
    return re.sub(r"^Error opening b?(['\"]).*?\1: ?", "", _short(e)) or type(e).__name__


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """(sample_rate, channels, frames) of a file, without decoding it."""
    with _open(path) as f:
        return f.samplerate, f.channels, f.frames


def stream_audio(path: str | os.PathLike, sample_rate: int, block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """Decode ``path`` in blocks: yields mono float32 chunks at ``sample_rate`` (bounded memory).

    Channels are averaged; other rates go through a streaming soxr resampler, so a 2-hour file
    never sits in memory at once. Raises ``AudioDecodeError`` naming the file on any failure,
    including files that decode to no samples or to NaN/Inf.
    """
    with _open(path) as f:
        yield from _stream_open(f, display(path), sample_rate, block_seconds)


def _open_bytes(data: bytes, name: str) -> sf.SoundFile:
    if len(data) == 0:
        raise AudioDecodeError(f"{name}: is empty (0 bytes)")
    try:
        return sf.SoundFile(io.BytesIO(data))
    except Exception as e:  # libsndfile's own message says what it could not parse
        raise AudioDecodeError(f"{name}: cannot decode as audio ({_libsndfile_reason(e)})") from e


def decode_value(value: Mapping[str, Any], sample_rate: int, what: str = "audio") -> tuple[np.ndarray, int]:
    """An undecoded Hugging Face datasets Audio value (``Audio(decode=False)``: ``{"bytes", "path"}``)
    as (mono float32 clip at ``sample_rate``, the file's own rate), with this package's decoder
    (libsndfile + soxr: no torchcodec, no FFmpeg). ``bytes`` win over ``path`` (Hub datasets carry
    the file's bytes and its name inside the archive); else ``path`` is read. Raises
    ``AudioDecodeError`` naming ``what`` (and the path) when it cannot be decoded."""
    data, path = value.get("bytes"), value.get("path")
    name = f"{what} ({display(path)})" if path else what
    if data is not None:
        with _open_bytes(bytes(data), name) as f:
            rate = f.samplerate
            chunks = list(_stream_open(f, name, sample_rate, 30.0))
    elif path:
        with _open(path) as f:
            rate = f.samplerate
            chunks = list(_stream_open(f, f"{what} ({display(path)})", sample_rate, 30.0))
    else:
        raise ValueError(f"{what} is an undecoded Audio value with neither bytes nor a path")
    return np.concatenate(chunks), rate


def _stream_open(f: sf.SoundFile, name: str, sample_rate: int, block_seconds: float) -> Iterator[np.ndarray]:
    """``stream_audio`` of an open SoundFile; ``name`` names it in errors."""
    total, emitted, dc = 0, 0, 0.0
    sr_in = f.samplerate
    if sr_in != sample_rate:
        try:
            check_ratio(sr_in, sample_rate, name)
        except ValueError as e:
            raise AudioDecodeError(str(e)) from None
    stream = None if sr_in == sample_rate else soxr.ResampleStream(
        sr_in, sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
    block = max(1024, int(block_seconds * sr_in))
    try:
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            last = len(data) < block
            mono = np.ascontiguousarray(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0])
            peak = float(np.max(np.abs(mono))) if mono.size else 0.0  # NaN/Inf if any sample is
            if not np.isfinite(peak):
                raise AudioDecodeError(f"{name}: decoded samples contain NaN/Inf")
            if peak > MAX_ABS_AMPLITUDE:
                raise AudioDecodeError(f"{name}: float samples peak at {peak:.3g}, "
                                       f"far outside [-1, 1] (a corrupt or mis-scaled float file)")
            total += len(mono)
            dc += float(mono.sum(dtype=np.float64))
            out = mono if stream is None else stream.resample_chunk(mono, last=last)
            if len(out):
                emitted += len(out)
                yield out.astype(np.float32, copy=False)
            if last:
                break
    except AudioDecodeError:
        raise
    except Exception as e:
        raise AudioDecodeError(f"{name}: decoding failed after {total} samples ({_short(e)})") from e
    if total == 0:
        raise AudioDecodeError(f"{name}: contains no audio samples (zero length)")
    if emitted == 0:  # shorter than one output sample: one sample, as ``resample`` does for arrays
        yield np.asarray([dc / total], dtype=np.float32)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Decode a whole file to mono float32 at ``sample_rate`` (see ``stream_audio``)."""
    chunks = list(stream_audio(path, sample_rate))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
