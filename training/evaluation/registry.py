"""The LAPE task list: names, where each dataset sits under ``--data-root``, and per-task crop lengths.

Crops (seconds): ``lape`` = the per-task constants of the DeLoRes/SLICER-era code (the task table in
docs/evaluation.md; MUSAN's is our choice, the reference gives none); ``evar`` = EVAR's unit lengths
where EVAR has the task, else the LAPE value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from . import layouts_other as other
from . import layouts_speech as speech
from .manifest import MANIFEST_NAME, Task, TaskError, read_manifest


@dataclass(frozen=True)
class LapeTask:
    name: str
    folder: str  # dataset folder under --data-root, in its official layout
    convert: Callable[[Path, Path, int], Path]
    crop_lape: float
    crop_evar: float
    about: str


LAPE_TASKS: dict[str, LapeTask] = {t.name: t for t in (
    LapeTask("spcv1_12", "speech_commands_v0.01", partial(speech.convert_speech_commands, n_classes=12),
             1.0, 1.0, "Speech Commands v1, 10 words + unknown + silence"),
    LapeTask("spcv2_12", "speech_commands_v0.02", partial(speech.convert_speech_commands, n_classes=12),
             1.0, 1.0, "Speech Commands v2, 10 words + unknown + silence"),
    LapeTask("spcv2_35", "speech_commands_v0.02", partial(speech.convert_speech_commands, n_classes=35),
             1.0, 1.0, "Speech Commands v2, 35 words"),
    LapeTask("voxceleb1", "voxceleb1", speech.convert_voxceleb1, 8.0, 8.2, "VoxCeleb1 speaker identification"),
    LapeTask("librispeech100", "LibriSpeech", speech.convert_librispeech, 13.0, 13.0,
             "LibriSpeech train-clean-100 speaker identification"),
    LapeTask("iemocap", "IEMOCAP_full_release", speech.convert_iemocap, 4.0, 4.0, "IEMOCAP 4-class emotion"),
    LapeTask("voxforge", "voxforge", speech.convert_voxforge, 6.0, 5.8, "VoxForge 6-language identification"),
    LapeTask("nsynth", "nsynth", other.convert_nsynth, 4.0, 4.0, "NSynth instrument family"),
    LapeTask("tut2018", "TUT-urban-acoustic-scenes-2018-development", other.convert_tut2018, 9.0, 9.0,
             "TUT Urban Acoustic Scenes 2018, fold 1"),
    LapeTask("bird", "bird_audio_detection", other.convert_bird, 10.0, 10.0,
             "Bird audio detection (freefield1010 + warblr)"),
    LapeTask("musan", "musan", other.convert_musan, 4.0, 4.0, "MUSAN speech / music / noise"),
)}


def prepare_task(name: str, data_root: Path, tasks_dir: Path, seed: int, rebuild: bool = False) -> Path:
    """Convert the official dataset for LAPE task ``name`` into ``tasks_dir/name`` (once); return the folder."""
    spec = LAPE_TASKS[name]
    dest = tasks_dir / name
    if rebuild or not (dest / MANIFEST_NAME).is_file():
        source = data_root / spec.folder
        if not source.is_dir():
            raise TaskError(f"task {name}: dataset folder {source} not found (expected {spec.about} in its "
                            f"official layout; see docs/evaluation.md)")
        spec.convert(source, dest, seed)
    return dest


def resolve_tasks(spec: str, data_root: Path | None, tasks_dir: Path | None, split_seed: int,
                  rebuild: bool = False) -> list[Task]:
    """Comma list of LAPE task names and/or folders holding a manifest.csv -> loaded tasks."""
    out = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item in LAPE_TASKS and not Path(item).is_dir():
            if data_root is None:
                raise TaskError(f"task {item}: a LAPE task name needs --data-root (the folder holding "
                                f"{LAPE_TASKS[item].folder}/)")
            folder = prepare_task(item, data_root, tasks_dir or data_root / "slicer_tasks", split_seed, rebuild)
            task = read_manifest(folder, item)
            out.append(Task(task.name, task.root, task.rows, {**task.info, "lape_task": item}))
        elif Path(item).is_dir():
            out.append(read_manifest(item, Path(item).resolve().name))
        else:
            known = ", ".join(LAPE_TASKS)
            raise TaskError(f"task {item!r}: neither a folder with {MANIFEST_NAME} nor a LAPE task ({known})")
    names = [t.name for t in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise TaskError(f"task names must be unique, got {sorted(dup)} twice ({os.pathsep.join(names)})")
    return out


def crop_seconds(task: Task, protocol: str, override: float | None, durations: list[float]) -> float:
    """The fixed clip length for ``task``: ``--crop``, then the LAPE table, ``task.json``, else the
    median train duration rounded up to 0.1 s (clamped to [0.96, 15] s)."""
    if override:
        return float(override)
    lape = task.info.get("lape_task")
    if lape in LAPE_TASKS:
        spec = LAPE_TASKS[lape]
        return spec.crop_evar if protocol == "evar" else spec.crop_lape
    if "crop_seconds" in task.info:
        return float(task.info["crop_seconds"])
    if not durations:
        return 1.0
    med = sorted(durations)[len(durations) // 2]
    return float(min(15.0, max(0.96, -(-med * 10 // 1) / 10)))
