"""EXPR-4: vocal expression from the Hedgewars voice packs (an IEMOCAP stand-in), pack-disjoint.

Classes map utterance names to pain / triumph / threat / alarm. Caveat: in the English packs the
words correlate with the class, so this is expression-plus-lexicon, not pure emotion.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..common import SR, decode, peak_normalise
from ..manifest import Clip
from ..sources import HEDGEWARS, hedgewars_voices
from . import Context

NAME = "expression"
CLASSES = {
    "pain": "Ow1 Ow2 Ow3 Ow4 Ooff1 Ooff2 Ooff3 Ouch Nooo PoisonCough PoisonMoan",
    "triumph": "Amazing Brilliant Excellent Victory Flawless Firstblood Enemydown Laugh",
    "threat": "Illgetyou Gonnagetyou Justyouwait Youllregretthat Comeonthen Coward Stupid Nutter Traitor Bugger Leavemealone",
    "alarm": "Incoming Takecover Watchit Hurry Runaway Uh-oh Ohdear Oops Whatthe Drat Missed",
}
LABEL_OF = {w: c for c, ws in CLASSES.items() for w in ws.split()}
SPLIT_OF_PACK = {"Pirate": "test", "Default_ru": "test", "Surfer": "test", "Singer": "test",
                 "Default_es": "test", "Mobster": "valid", "Default_pl": "valid"}
TINY_PACKS = ("Default", "British", "Mobster", "Pirate")
MAX_SECONDS = 4.0


def packages(ctx: Context) -> list[str]:
    return [HEDGEWARS]


def load_clip(path: Path) -> object:
    x = decode(path)[: int(MAX_SECONDS * SR)]
    return peak_normalise(x)


def plan(ctx: Context) -> list[Clip]:
    clips = []
    per_class: dict[tuple[str, str], int] = {}
    for r in hedgewars_voices(ctx.cache):
        pack, word = r.speaker.split(":")[1], Path(r.sid).stem
        label = LABEL_OF.get(word)
        if label is None or (ctx.tiny and pack not in TINY_PACKS):
            continue
        k = (pack, label)
        per_class[k] = per_class.get(k, 0) + 1
        if ctx.tiny and per_class[k] > 2:
            continue
        clips.append(Clip(f"audio/{pack}/{word}.wav", partial(load_clip, r.path), label,
                          SPLIT_OF_PACK.get(pack, "train"), f"pack:{pack}", (r.sid,)))
    return clips
