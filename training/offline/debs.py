"""Debian package cache: ``apt-get download`` the .deb, unpack the audio and copyright files.

``DebCache(root).fetch([...])`` returns the unpacked trees. Nothing is installed: packages are
downloaded as plain files (no root needed for download) and unpacked with ``dpkg-deb``. A package
is unpacked into ``<name>.partial`` and renamed when complete, so an interrupted run resumes.
Builders running at the same time (``data corpus`` and ``data minilape`` side by side) share the
cache: ``fetch`` holds an exclusive lock on ``root/.lock`` so one downloads and unpacks while the
other waits, then finds the trees ready.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

# Only these members are unpacked: audio, soundfonts, MIDI scores, text sources and the licence.
MEMBERS = ("*.ogg", "*.wav", "*.flac", "*.sf2", "*.sf3", "*.mid", "*.midi", "*/copyright", "*/games/fortunes/*",
           "*/share/dict/*")


class DebFetchError(RuntimeError):
    """A package could not be downloaded (no apt, mirror unreachable, unknown name)."""


def default_cache() -> Path:
    env = os.environ.get("SLICER_EMBED_DATA_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "slicer-embed"
    return base / "debs" if not env else base


class DebCache:
    """Download + unpack cache rooted at ``root`` (``root/deb/*.deb``, ``root/root/<pkg>/...``)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache()

    def tree(self, package: str) -> Path:
        return self.root / "root" / package

    def fetch(self, packages: list[str]) -> dict[str, Path]:
        """Ensure every package is unpacked; return {package: unpacked tree}."""
        if any(not self.tree(p).is_dir() for p in packages):
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
                todo = [p for p in dict.fromkeys(packages) if not self.tree(p).is_dir()]
                if todo:
                    self._download([p for p in todo if not self._deb(p)])
                    for p in todo:
                        self._unpack(p)
        return {p: self.tree(p) for p in packages}

    def _deb(self, package: str) -> Path | None:
        hits = sorted((self.root / "deb").glob(f"{package}_*.deb"))
        return hits[-1] if hits else None

    def _download(self, packages: list[str]) -> None:
        if not packages:
            return
        if shutil.which("apt-get") is None:
            raise DebFetchError("apt-get not found: the offline builders need a Debian/Ubuntu system")
        dest = self.root / "deb"
        dest.mkdir(parents=True, exist_ok=True)
        os.chmod(dest, 0o777)  # lets apt's sandbox user write here (avoids a warning as root)
        p = subprocess.run(["apt-get", "download", *packages], cwd=dest, capture_output=True, text=True)
        if p.returncode != 0:
            raise DebFetchError(f"apt-get download {' '.join(packages)} failed in {dest}:\n{p.stderr[-800:]}")

    def _unpack(self, package: str) -> None:
        deb = self._deb(package)
        if deb is None:
            raise DebFetchError(f"{package}: downloaded .deb not found in {self.root / 'deb'}")
        part = self.tree(package).with_name(package + ".partial")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        tar = ["tar", "-x", "-C", str(part), "--wildcards", *MEMBERS]
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as src:
            # tar exits 2 when a wildcard matches nothing; that is fine (we check for a licence below).
            subprocess.run(tar, stdin=src.stdout, capture_output=True)
        if src.returncode != 0:
            raise DebFetchError(f"dpkg-deb could not read {deb}")
        os.replace(part, self.tree(package))

    def copyright(self, package: str) -> Path | None:
        hits = sorted(self.tree(package).glob("usr/share/doc/*/copyright"))
        return hits[0] if hits else None

    def copy_licences(self, packages: list[str], out: Path) -> None:
        """Copy each package's ``copyright`` to ``out/licences/<package>.copyright``."""
        dest = out / "licences"
        dest.mkdir(parents=True, exist_ok=True)
        for p in sorted(set(packages)):
            src = self.copyright(p)
            if src is not None:
                shutil.copyfile(src, dest / f"{p}.copyright")

    @staticmethod
    def copy_system_licences(packages: list[str], out: Path) -> None:
        """Copy installed packages' ``/usr/share/doc/<pkg>/copyright`` (synthesis tools and voices)."""
        for p in sorted(set(packages)):
            src = Path("/usr/share/doc") / p / "copyright"
            if src.is_file():
                (out / "licences").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out / "licences" / f"{p}.copyright")
