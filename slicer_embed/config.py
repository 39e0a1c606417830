"""Typed model configuration: what travels in ``config.json`` next to ``model.safetensors``.

The frontend parameters and the normalisation statistics are part of the model (as in open_clip's
``preprocess_cfg`` and timm's ``PretrainedCfg``), so a set of weights can never be paired with a
frontend it was not trained with. All dataclasses are frozen; ``ModelConfig.from_dict`` validates a
parsed ``config.json`` and names the offending field when something is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

SCHEMA_VERSION = 1
"""Version of the ``config.json`` layout. Bump it (and keep a reader for the old one) on any change."""

POOLINGS = ("mean+max", "mean", "max")
"""Clip pooling modes over frame embeddings. ``mean+max`` is SLICER's/BYOL-A's (element-wise sum)."""

FLOAT32_EPS = 1.1920928955078125e-07  # torch.finfo(torch.float32).eps, the reference log offset
FLOAT64_EPS = 2.220446049250313e-16  # np.finfo(float).eps, the reference power offset


class ConfigError(ValueError):
    """A ``config.json`` that cannot describe a valid model."""


# Upper bounds: far above any sensible model, low enough that building the model cannot exhaust memory.
MAX_CONFIG_BYTES = 1 << 20  # config.json is a few kB; a 1 MiB one is not a model config
MAX_SAMPLE_RATE = 1_000_000
MAX_FFT = 1 << 16
MAX_MELS = 1024
MAX_BLOCKS = 8
MAX_WIDTH = 1 << 16  # conv channels, hidden and embedding sizes
MAX_WINDOW_SAMPLES = 1 << 24  # one encoder window: ~17 min at 16 kHz
MAX_PARAMETER_BYTES = 4 << 30  # float32 weights
MAX_WINDOW_ACTIVATION_BYTES = 1 << 30  # the widest activation of one window (block 1 output), float32
REQUIRED_SECTIONS = ("frontend", "architecture", "normalization", "inference")


@dataclass(frozen=True)
class FrontendConfig:
    """Log-mel frontend (BYOL-A / SLICER reference values).

    Waveform at ``sample_rate`` Hz, mono -> STFT (Hann window of ``win_length`` samples, ``n_fft``
    points, hop ``hop_length`` samples, centred with ``pad_mode`` padding) -> power -> ``n_mels``
    Slaney-scale mel bands between ``f_min`` and ``f_max`` Hz with Slaney area normalisation ->
    natural log of (mel power + ``log_offset``).
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 60.0
    f_max: float = 7800.0
    center: bool = True
    pad_mode: str = "reflect"
    power: float = 2.0
    power_offset: float = FLOAT64_EPS  # added to |X|^2 before the mel projection (librosa code)
    log_offset: float = FLOAT32_EPS  # added to mel power before the natural log

    def validate(self) -> None:
        _require(0 < self.sample_rate <= MAX_SAMPLE_RATE, "frontend.sample_rate", self.sample_rate,
                 f"must be in (0, {MAX_SAMPLE_RATE}]")
        _require(0 < self.n_fft <= MAX_FFT, "frontend.n_fft", self.n_fft, f"must be in (0, {MAX_FFT}]")
        _require(0 < self.win_length <= self.n_fft, "frontend.win_length", self.win_length,
                 "must be in (0, n_fft]")
        _require(0 < self.hop_length <= MAX_FFT, "frontend.hop_length", self.hop_length,
                 f"must be in (0, {MAX_FFT}]")
        _require(0 < self.n_mels <= MAX_MELS, "frontend.n_mels", self.n_mels, f"must be in (0, {MAX_MELS}]")
        for name in ("f_min", "f_max", "power_offset", "log_offset"):
            _require(math.isfinite(getattr(self, name)), f"frontend.{name}", getattr(self, name), "must be finite")
        _require(0 <= self.f_min < self.f_max <= self.sample_rate / 2, "frontend.f_max", self.f_max,
                 f"need 0 <= f_min ({self.f_min}) < f_max <= sample_rate / 2")
        _require(self.pad_mode in ("reflect", "constant"), "frontend.pad_mode", self.pad_mode,
                 "must be 'reflect' or 'constant'")
        _require(self.power in (1.0, 2.0), "frontend.power", self.power, "must be 1.0 or 2.0")
        _require(self.log_offset > 0, "frontend.log_offset", self.log_offset, "must be > 0")


@dataclass(frozen=True)
class EncoderConfig:
    """AudioNTT2020 encoder (BYOL-A/SLICER): 3 conv blocks, then FC 512 -> 2048 -> 2048 per frame."""

    name: str = "audiontt2020"
    n_mels: int = 64
    conv_channels: int = 64
    n_blocks: int = 3
    hidden_dim: int = 2048
    embedding_dim: int = 2048
    dropout: float = 0.3

    @property
    def time_stride(self) -> int:
        """Log-mel frames per output frame (each block max-pools time by 2)."""
        return 2**self.n_blocks

    @property
    def fc_input_dim(self) -> int:
        return self.conv_channels * (self.n_mels // 2**self.n_blocks)

    def validate(self) -> None:
        _require(self.name == "audiontt2020", "architecture.name", self.name,
                 "only 'audiontt2020' is known")
        _require(1 <= self.n_blocks <= MAX_BLOCKS, "architecture.n_blocks", self.n_blocks,
                 f"must be in [1, {MAX_BLOCKS}]")
        _require(0 < self.n_mels <= MAX_MELS, "architecture.n_mels", self.n_mels, f"must be in (0, {MAX_MELS}]")
        _require(self.n_mels % 2**self.n_blocks == 0, "architecture.n_mels", self.n_mels,
                 f"must be divisible by 2**n_blocks = {2**self.n_blocks}")
        for name in ("conv_channels", "hidden_dim", "embedding_dim"):
            _require(0 < getattr(self, name) <= MAX_WIDTH, f"architecture.{name}", getattr(self, name),
                     f"must be in (0, {MAX_WIDTH}]")
        _require(0.0 <= self.dropout < 1.0, "architecture.dropout", self.dropout, "must be in [0, 1)")


@dataclass(frozen=True)
class NormalizationConfig:
    """Scalar standardisation of the log-mel: ``(x - mean) / std`` (one mean, one std, as RunningNorm).

    ``source`` says where the numbers come from (e.g. the training corpus and how many clips);
    ``mean=0, std=1`` means no normalisation (the random-weights reference model).
    """

    mean: float = 0.0
    std: float = 1.0
    source: str = "none"

    def validate(self) -> None:
        _require(math.isfinite(self.mean), "normalization.mean", self.mean, "must be finite")
        _require(math.isfinite(self.std) and self.std > 0, "normalization.std", self.std,
                 "must be finite and > 0")


@dataclass(frozen=True)
class InferenceConfig:
    """How waveforms are cut into encoder windows at inference.

    Audio is split into consecutive, non-overlapping windows of ``window_frames`` log-mel hops
    (96 hops = 15,360 samples = 0.96 s at 16 kHz, the training crop rounded to whole output frames);
    each window is embedded on its own, so embeddings do not depend on batching or chunking.
    """

    window_frames: int = 96
    pooling: str = "mean+max"

    def validate(self, encoder: EncoderConfig) -> None:
        _require(self.window_frames > 0 and self.window_frames % encoder.time_stride == 0,
                 "inference.window_frames", self.window_frames,
                 f"must be a positive multiple of the encoder time stride ({encoder.time_stride})")
        _require(self.pooling in POOLINGS, "inference.pooling", self.pooling, f"must be one of {POOLINGS}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model and its input contract from ``config.json``."""

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    architecture: EncoderConfig = field(default_factory=EncoderConfig)
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    # Free-form provenance: training run, corpus, recipe, steps, weights sha256, licence, ...
    provenance: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    model_type: str = "slicer"

    def validate(self) -> "ModelConfig":
        _require(self.model_type == "slicer", "model_type", self.model_type, "must be 'slicer'")
        self.frontend.validate()
        self.architecture.validate()
        self.normalization.validate()
        self.inference.validate(self.architecture)
        _require(self.frontend.n_mels == self.architecture.n_mels, "architecture.n_mels",
                 self.architecture.n_mels, f"must equal frontend.n_mels ({self.frontend.n_mels})")
        _require(self.window_samples <= MAX_WINDOW_SAMPLES, "inference.window_frames", self.inference.window_frames,
                 f"x frontend.hop_length = {self.window_samples} samples per window; at most {MAX_WINDOW_SAMPLES}")
        a = self.architecture
        params = 9 * a.conv_channels * (1 + (a.n_blocks - 1) * a.conv_channels) \
            + a.fc_input_dim * a.hidden_dim + a.hidden_dim * a.embedding_dim
        _require(4 * params <= MAX_PARAMETER_BYTES, "architecture", f"{params:,} parameters",
                 f"need {4 * params / 2**30:.1f} GiB; at most {MAX_PARAMETER_BYTES / 2**30:.0f} GiB is accepted")
        activation = 4 * a.conv_channels * a.n_mels * (self.inference.window_frames + 1)
        _require(activation <= MAX_WINDOW_ACTIVATION_BYTES, "inference.window_frames", self.inference.window_frames,
                 f"with {a.conv_channels} channels x {a.n_mels} mels needs {activation / 2**30:.1f} GiB per window; "
                 f"at most {MAX_WINDOW_ACTIVATION_BYTES / 2**30:.0f} GiB is accepted")
        return self

    # -- derived quantities ---------------------------------------------------------------------
    @property
    def window_samples(self) -> int:
        return self.inference.window_frames * self.frontend.hop_length

    @property
    def frame_hop_samples(self) -> int:
        """Samples between consecutive output frames (80 ms at 16 kHz)."""
        return self.architecture.time_stride * self.frontend.hop_length

    @property
    def frames_per_window(self) -> int:
        return self.inference.window_frames // self.architecture.time_stride

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["provenance"] = dict(self.provenance)
        # Put the schema version first so a human reading config.json sees it at once.
        return {"schema_version": d.pop("schema_version"), "model_type": d.pop("model_type"), **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        if not isinstance(d, Mapping):
            raise ConfigError(f"config must be a JSON object, got {type(d).__name__}")
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"config schema_version {version!r} is not supported by this slicer-embed "
                f"(supports {SCHEMA_VERSION}); upgrade slicer-embed or re-export the model")
        sections = {"frontend": FrontendConfig, "architecture": EncoderConfig,
                    "normalization": NormalizationConfig, "inference": InferenceConfig}
        known = set(sections) | {"schema_version", "model_type", "provenance"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"config has unknown top-level keys {unknown}")
        absent = [name for name in REQUIRED_SECTIONS if name not in d]
        if absent:
            raise ConfigError(f"config has no {absent} section(s); a model config records its frontend, "
                              f"architecture, log-mel normalization and inference windows (defaults would give "
                              f"wrong embeddings silently)")
        kwargs: dict[str, Any] = {}
        for name, klass in sections.items():
            kwargs[name] = _section(klass, d.get(name, {}), name)
        provenance = d.get("provenance", {})
        if not isinstance(provenance, Mapping):
            raise ConfigError("config.provenance must be a JSON object")
        return cls(**kwargs, provenance=dict(provenance), schema_version=version,
                   model_type=d.get("model_type", "slicer")).validate()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json_file(cls, path: str | Path) -> "ModelConfig":
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_CONFIG_BYTES:
                raise ConfigError(f"{path}: {size:,} bytes is not a model config (at most {MAX_CONFIG_BYTES:,})")
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text, so not a config.json ({e.reason} at byte {e.start})") from e
        except OSError as e:
            raise ConfigError(f"{path}: cannot be read ({e.strerror or e})") from e
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from e
        except RecursionError:
            raise ConfigError(f"{path}: JSON nested too deeply to be a model config") from None
        except ValueError as e:  # e.g. an integer of more than 4300 digits
            raise ConfigError(f"{path}: not a usable JSON config ({e})") from e
        try:
            return cls.from_dict(data)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from e

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes).validate()


def _section(klass: type, data: Any, name: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"config.{name} must be a JSON object")
    fields = {f.name: f for f in dataclasses.fields(klass)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"config.{name} has unknown keys {unknown}")
    values = {}
    for key, value in data.items():
        default = fields[key].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ConfigError(f"config.{name}.{key} has the wrong type: {value!r} "
                              f"(expected {type(default).__name__})")
        values[key] = value
    return klass(**values)


def _require(ok: bool, key: str, value: Any, why: str) -> None:
    if not ok:
        raise ConfigError(f"config.{key} = {value!r} {why}")
