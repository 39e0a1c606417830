"""Progress on stderr for ``extract``: files done/total, audio hours, speed (x real time), ETA.

Results go only to files; this bar and the one-line skip reports go to stderr. ``quiet`` hides the
bar and the summary but never the skip reports.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, *, quiet: bool, label: str = "extract"):
        self.quiet = quiet
        self.seconds = 0.0
        self.failed = 0
        self.start = time.monotonic()
        self.bar = tqdm(total=total, unit="file", desc=label, file=sys.stderr, disable=quiet,
                        dynamic_ncols=True, smoothing=0.1)

    def done(self, audio_seconds: float) -> None:
        self.seconds += audio_seconds
        self._step()

    def fail(self, name: str, reason: str) -> None:
        self.failed += 1
        # tqdm.write keeps the bar intact; errors are shown even when quiet.
        tqdm.write(f"skipped {name}: {reason}", file=sys.stderr)
        self._step()

    def _step(self) -> None:
        if self.quiet:
            return
        elapsed = max(time.monotonic() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{self.seconds / 3600:.2f} h audio, {self.seconds / elapsed:.0f}x real "
                                 f"time, {self.failed} failed", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()

    def note(self, text: str) -> None:
        if not self.quiet:
            tqdm.write(text, file=sys.stderr)
