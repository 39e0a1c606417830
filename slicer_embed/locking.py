"""An exclusive lock on an output (an extract OUTPUT, a training run folder) held for a whole run.

``fcntl.flock`` on a ``.lock`` file beside the output, with the holder's pid written into it: the
kernel releases it when the holder exits for any reason (kill -9 included), so a stale file never
blocks a later run, and a second run on the same output gets a clear ``OutputLocked`` naming the
holder instead of racing it. On systems without ``fcntl`` (Windows) locking is skipped.

A flock belongs to the open file description, which ``fork`` shares with the child: DataLoader
workers forked by the holder kept the lock alive after a ``kill -9`` of the holder until the last of
them noticed (~5 s later), and an immediate ``--resume`` was refused. So every forked child closes
its copy of the descriptor at once (``os.register_at_fork``); only the holder's copy holds the lock.
(Close-on-exec does not help: a forked worker does not exec.)
"""

from __future__ import annotations

import errno
import os
import warnings
import weakref
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


_HELD: "weakref.WeakSet[OutputLock]" = weakref.WeakSet()  # locks this process holds


def _forget_in_child() -> None:
    """After ``fork``, in the child: close the inherited lock descriptors without unlocking (LOCK_UN
    on the shared description would release the parent's lock)."""
    for lock in list(_HELD):
        if lock._fd is not None:
            try:
                os.close(lock._fd)
            except OSError:
                pass
            lock._fd = None
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class OutputLocked(RuntimeError):
    """Another process holds the lock: ``holder`` is its pid (None if unknown)."""

    def __init__(self, what: str, holder: int | None):
        self.holder = holder
        super().__init__(f"another process is writing {what}{f' (pid {holder})' if holder else ''}; "
                         f"wait for it to finish or stop it")


class OutputLock:
    """``with OutputLock(lock_path, what):`` holds the lock; ``what`` names the output in messages."""

    def __init__(self, path: str | os.PathLike, what: str):
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self) -> "OutputLock":
        if fcntl is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):  # the file we locked may have been unlinked by its releasing holder: retry
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_pid(fd)
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputLocked(self.what, holder) from None
                # a filesystem without flock (Lustre without -o flock, some NFS/SMB): run unlocked
                warnings.warn(f"cannot lock {self.path} ({e.strerror}); a concurrent run on {self.what} "
                              f"would not be detected", RuntimeWarning, stacklevel=2)
                return self
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:  # pragma: no cover - 100 holders in a row released under us
            raise OutputLocked(self.what, None)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        _HELD.add(self)
        return self

    def release(self) -> None:
        _HELD.discard(self)
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # before unlocking: a waiting run then makes a fresh file
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
