"""sfx: game sound-event classes, labelled by file name, split by game (package-disjoint).

Effects of the benchmark games (``allocation.BENCHMARK_GAMES``) and hyperrogue's sound folder get a
class from their file name (``RULES``: the first matching pattern wins; every match was checked by
hand against the file names of all 13 packages; music folders are left out). Classes that cannot
appear in every split (footsteps, doors, fire, weather, voices) are not used. Split by package
(``PACKAGE_SPLIT``, chosen so that every class is in train, valid and test; the build prints the
per-split class counts). A clip is the file from its first sound, at most ``SECONDS`` long.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np

from ..common import SR, decode, peak_normalise, stable_int
from ..manifest import Clip
from ..sources import Recording
from .readable import readable_files as files
from ..tasks import Context
from ..tts import trim_silence

NAME = "sfx"
SECONDS = 4.0
# scorched3d keeps effects in folders named by kind: (class, pattern on the lower-cased source id),
# tried first. In its explosions/ folder only the listed names are plain explosions (the rest are
# weapon-specific: bees, lightning, gas ...), which then go through RULES like any file.
FOLDER_RULES = (
    ("explosion", r"/explosions/(small|medium|large|xlarge|exp|empsmall|shockwave|meteor|napalm|tank)\.wav$"),
    ("weapon", r"/wav/shoot/"),
    ("vehicle", r"/wav/movement/"),
)
# (class, pattern on "/" + the lower-cased file name); order matters: the first match wins.
RULES = (
    ("explosion", r"explo|expl_|boom(?!erang)|nuke-explosion|riftcollapse|/quake\.|tnt_explode"),
    ("weapon", r"(?<!screen)shot|gun(?!powder)|cannon|laser|plasma|missile|bullet|tracer|/[a-z]{2}-fire\.|battle_|beamlaser"
               r"|ricochet|/launch\.|sword|knife|hit-axe|staffbody|staffhead|clawslice"),
    ("vehicle", r"engine|helicopter|tank-move|tankidle|hevidle|hevmov|hevstart|/tankmove\.|/tank\."
                r"|jet_|/jet\.|vehicle-sound|/train\.|submarine|cessna|f1[68]_|apache|firetruck|policecar|/t38\."
                r"|bulldozer|heavytraffic|cart_moving|ignition|porsche|viper|/9[34][45]\.|ford\d|lamborghini"
                r"|evo7|impreza|ferrari|xj220|corolla|/206_|/nsx\.|renault|/f360\.|clkdtm|/lotus\.|mclaren"
                r"|/gt40\.|alpha-romeo|unitsound_|steamroller|flyby|carhorn|honkhonk"),
    ("animal", r"/cows?\.|/moo\.|sheep|/dog\d?\.|/bark\d?\.|barkgrowl|/growl\d?\.|/snarl\d?\.|/wolf\.|/birds\d|birdchirp"
               r"|/gull\d|/bats\d|/frogs\.|/bees\.|rooster|/hawk\.|capuch|quack|cuckoo|mousesqueak|seen-woof|/bull\."
               r"|rabbitchitter|rabbitattack|/cow-?\d*\.|seen-eagle|seen-frog|seen-snake"),
    ("water", r"splash|env_sounds_water|drown|/drip\.|/rain\.|oceanwaves|swamped|/gloop\.|ball_sinks|dropinwater"),
    ("impact", r"/thud|crash|clank|impact|/break\.|/broken\.|shatter|/crunch\.|collision|metalhit|hit-crush"
               r"|/hit_0\d|/bhit\.|/land\d?\.|land_belly|/st-stone\.|/st-metal\.|break_glass|tool_breaks|dig_cracky"),
    ("ui", r"menu|/click\.|/select\.|/beep\d?\.|/switch\.|pickup|taking-item|/item\.|extralife|levelup|savepoint"
           r"|console|/tada\.|message_|powerup|levelcomplete|pill\.|/query\.|flag_(grab|drop|won|lost)"
           r"|time_warning|/timeout\.|screenshot|/text\.|/change\.|/return\."),
)
CLASSES = tuple(c for c, _ in RULES)
PACKAGES = ("btanks-data", "lugaru-data", "netpanzer-data", "torcs-data", "bzflag-data", "scorched3d-data",
            "starfighter-data", "enigma-data", "micropolis-data", "searchandrescue-data", "trackballs-data",
            "minetest-data", "hyperrogue-music")
PACKAGE_SPLIT = {  # the most even of all 3^13 package splits with every class >= 5 clips in each split
    "btanks-data": "train", "torcs-data": "train", "bzflag-data": "train", "scorched3d-data": "train",
    "starfighter-data": "train", "searchandrescue-data": "train",
    "netpanzer-data": "valid", "minetest-data": "valid", "hyperrogue-music": "valid",
    "lugaru-data": "test", "enigma-data": "test", "micropolis-data": "test", "trackballs-data": "test",
}
TINY_PACKAGES = ("bzflag-data", "minetest-data", "trackballs-data")  # small ones, one per split
MUSIC = re.compile(r"/(music|tunes)/|/music\d")


def packages(ctx: Context) -> list[str]:
    return list(TINY_PACKAGES if ctx.tiny else PACKAGES)


def label_of(sid: str) -> str | None:
    """Event class of a packaged file from its source id, or None."""
    s = sid.lower()
    for cls, pat in FOLDER_RULES:
        if re.search(pat, s):
            return cls
    name = "/" + s.rsplit("/", 1)[-1]
    for cls, pat in RULES:
        if re.search(pat, name):
            return cls
    return None


def effects(ctx: Context, package: str) -> list[tuple[str, Recording]]:
    """(class, recording) of every labelled, non-music file of ``package``."""
    out = []
    for r in files(ctx.cache, package):
        if MUSIC.search(r.sid.split("/", 1)[1].lower()):
            continue
        cls = label_of(r.sid)
        if cls is not None:
            out.append((cls, r))
    return out


def load_clip(path: Path) -> np.ndarray:
    x = trim_silence(decode(path), threshold_db=-45.0)[: int(SECONDS * SR)]
    return peak_normalise(x)


def plan(ctx: Context) -> list[Clip]:
    clips = []
    # The tiny build keeps one file per class and package, of the classes its train package has.
    train_classes = {c for p in packages(ctx) if PACKAGE_SPLIT[p] == "train" for c, _ in effects(ctx, p)}
    for pkg in packages(ctx):
        taken: dict[str, int] = {}
        for cls, r in effects(ctx, pkg):
            if ctx.tiny and (taken.get(cls, 0) >= 1 or cls not in train_classes):
                continue
            taken[cls] = taken.get(cls, 0) + 1
            rel = r.sid.split("/", 1)[1]
            clips.append(Clip(f"audio/{pkg}/{cls}/{Path(rel).stem}-{stable_int(rel):08x}.wav", partial(load_clip, r.path),
                              cls, PACKAGE_SPLIT[pkg], f"package:{pkg}", (r.sid,)))
    return clips
