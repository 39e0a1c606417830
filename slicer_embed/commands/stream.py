"""``slicer-embed stream``: embed live audio from stdin (or a file), one record per 80 ms frame on stdout.

    arecord -q -f S16_LE -r 16000 -c 1 -t wav | slicer-embed stream -
    arecord -q -f S16_LE -r 48000 -c 2 -t raw | slicer-embed stream - --raw s16le --rate 48000 --channels 2
    slicer-embed stream speech.wav --format f32 > frames.bin

Input: a WAV stream (PCM 8/16/24/32-bit or float 32/64, any rate and channel count; the placeholder
sizes that ``arecord`` and other streaming writers put in the header are fine), or headerless PCM with
``--raw s16le|s32le|f32le`` ``--rate`` ``--channels``. Channels are averaged. A frame is written as soon as
its 0.96 s window is complete, and the last window on end of input.

Output (stdout): ``--format jsonl`` (default) one JSON object per frame, ``{"t": seconds, "embedding": [D
floats]}``; ``--format f32`` a binary record per frame: the timestamp as float64 then D float32 values
(little-endian), for programs that read fixed-size records. Exit 0, 2 on bad input or options.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from typing import BinaryIO, Iterator, Sequence

import numpy as np

RAW = {"s16le": ("<i2", 32768.0), "s32le": ("<i4", 2147483648.0), "f32le": ("<f4", 1.0)}
BLOCK_BYTES = 1 << 16


class StreamError(ValueError):
    """Input that cannot be read as the audio it claims to be."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slicer-embed stream", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("source", help="'-' for stdin, or a WAV file path")
    p.add_argument("--model", default=None, help="model folder or Hub repo id (default: the bundled model)")
    p.add_argument("--raw", choices=sorted(RAW), default=None,
                   help="headerless PCM of this sample format instead of WAV (needs --rate)")
    p.add_argument("--rate", type=int, default=None, help="sample rate of --raw input, Hz")
    p.add_argument("--channels", type=int, default=1, help="interleaved channels of --raw input (default 1)")
    p.add_argument("--format", choices=("jsonl", "f32"), default="jsonl",
                   help="jsonl: one JSON line per frame (default); f32: float64 time + D float32 per frame")
    p.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                   help="encoder numerics (default float32; bfloat16 on CPUs with AVX512-BF16/AMX)")
    return p


def read_exact(f: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        piece = f.read(n - len(out))
        if not piece:
            break
        out += piece
    return out


PLACEHOLDER_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000, 0xFFFFFFFF - 36)  # streaming writers, RF64


def wav_header(f: BinaryIO) -> tuple[int, int, str, float, int | None]:
    """Parse a RIFF/WAVE header up to the ``data`` chunk: (rate, channels, numpy dtype, scale, data bytes
    or None when the header holds a streaming writer's placeholder size instead of the real one)."""
    head = read_exact(f, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise StreamError("input is not a WAV stream (no RIFF/WAVE header); use --raw for headerless PCM")
    fmt = None
    while True:
        chunk = read_exact(f, 8)
        if len(chunk) < 8:
            raise StreamError("WAV stream ended before its data chunk")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            body = read_exact(f, size + (size & 1))
            if size < 16 or len(body) < 16:
                raise StreamError(f"WAV stream has a {size}-byte fmt chunk (at least 16 expected)")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            data_bytes = None if size in PLACEHOLDER_SIZES else size
            break
        else:
            read_exact(f, size + (size & 1))
    if fmt is None:
        raise StreamError("WAV stream has no fmt chunk before its data")
    tag, channels, rate, bits = fmt
    kinds = {(1, 8): ("u1", 128.0), (1, 16): ("<i2", 32768.0), (1, 24): ("i3", 8388608.0),
             (1, 32): ("<i4", 2147483648.0), (3, 32): ("<f4", 1.0), (3, 64): ("<f8", 1.0)}
    if (tag, bits) not in kinds or channels < 1 or rate < 1:
        raise StreamError(f"unsupported WAV stream: format tag {tag}, {bits} bits, {channels} channels, {rate} Hz")
    dtype, scale = kinds[(tag, bits)]
    return rate, channels, dtype, scale, data_bytes


def pcm_blocks(f: BinaryIO, dtype: str, scale: float, channels: int,
               limit: int | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks from interleaved PCM bytes, as soon as they arrive (``read1``: a pipe's
    available bytes, not a full block); at most ``limit`` bytes (the WAV data chunk's size, so chunks
    after the audio are not read as samples). A trailing partial frame is dropped."""
    width = 3 if dtype == "i3" else np.dtype(dtype).itemsize
    frame = width * channels
    carry = b""
    left = limit
    read = getattr(f, "read1", f.read)
    while left is None or left > 0:
        data = read(BLOCK_BYTES if left is None else min(BLOCK_BYTES, left))
        if not data:
            break
        if left is not None:
            left -= len(data)
        data = carry + data
        usable = len(data) - len(data) % frame
        carry = data[usable:]
        if not usable:
            continue
        raw = np.frombuffer(data[:usable], np.uint8)
        if dtype == "i3":  # 24-bit little-endian: widen to int32 keeping the sign
            b = raw.reshape(-1, 3).astype(np.int32)
            x = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)).astype(np.int32)
            x = np.where(x >= 1 << 23, x - (1 << 24), x).astype(np.float32) / scale
        elif dtype == "u1":
            x = (raw.astype(np.float32) - 128.0) / scale
        else:
            x = np.frombuffer(data[:usable], dtype).astype(np.float32) / scale
        yield x.reshape(-1, channels).mean(axis=1) if channels > 1 else x


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.raw and not args.rate:
        print("slicer-embed stream: error: --raw needs --rate", file=sys.stderr)
        return 2
    if args.channels < 1:
        print("slicer-embed stream: error: --channels must be >= 1", file=sys.stderr)
        return 2
    from .. import api
    try:
        model = api.load(args.model, device="cpu")
    except (ValueError, OSError) as e:
        print(f"slicer-embed stream: error: cannot load the model: {e}", file=sys.stderr)
        return 2
    if args.precision == "bfloat16":
        model.optimize("bfloat16")
    src = sys.stdin.buffer if args.source == "-" else open(args.source, "rb")
    out = sys.stdout.buffer
    written = 0
    try:
        limit = None
        if args.raw:
            rate, channels = args.rate, args.channels
            dtype, scale = RAW[args.raw]
        else:
            rate, channels, dtype, scale, limit = wav_header(src)
        stream = model.stream(sample_rate=rate)
        for block in pcm_blocks(src, dtype, scale, channels, limit):
            written += _write(out, stream.push(block), args.format)
        written += _write(out, stream.flush(), args.format)
    except (StreamError, ValueError) as e:
        print(f"slicer-embed stream: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away: a normal end for a pipeline
        return 0
    finally:
        if src is not sys.stdin.buffer:
            src.close()
    print(f"slicer-embed stream: {written} frame(s), {stream.seconds:.2f} s of audio", file=sys.stderr)
    return 0


def _write(out: BinaryIO, frames, fmt: str) -> int:
    emb, times = frames
    if not len(emb):
        return 0
    if fmt == "jsonl":
        lines = "".join(json.dumps({"t": round(float(t), 6), "embedding": [round(float(v), 7) for v in e]},
                                   separators=(",", ":")) + "\n" for t, e in zip(times, emb))
        out.write(lines.encode())
    else:
        rec = np.empty(len(emb), dtype=[("t", "<f8"), ("e", "<f4", emb.shape[1])])
        rec["t"], rec["e"] = times, emb
        out.write(rec.tobytes())
    out.flush()  # live: each window's frames leave as soon as they exist
    return len(emb)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
