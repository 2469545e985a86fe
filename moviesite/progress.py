"""Progress reporting: a tqdm bar with rate and ETA on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

PLAIN_INTERVAL_SECONDS = 5.0


class PlainProgress:
    """tqdm's update/close interface, printing periodic lines for logs and CI."""

    def __init__(self, *, total: int | None, desc: str, unit: str, file: TextIO) -> None:
        self.total, self.desc, self.unit, self.file = total, desc, unit, file
        self.n = self.printed = 0
        self.started = self.last_print = time.monotonic()

    def update(self, count: int = 1) -> None:
        self.n += count
        now = time.monotonic()
        if now - self.last_print >= PLAIN_INTERVAL_SECONDS:
            self.last_print = now
            self._print(now)

    def _print(self, now: float) -> None:
        self.printed = self.n
        elapsed = max(now - self.started, 1e-9)
        rate = self.n / elapsed
        of_total = f"/{self.total}" if self.total else ""
        eta = f", ETA {(self.total - self.n) / rate:.0f}s" if self.total and rate else ""
        print(
            f"{self.desc}: {self.n}{of_total} {self.unit}s, {rate:.1f} {self.unit}s/s{eta}", file=self.file, flush=True
        )

    def close(self) -> None:
        if self.n != self.printed:
            self._print(time.monotonic())


def progress(*, total: int | None, desc: str, unit: str = "film", file: TextIO | None = None, enabled: bool = True):
    """A progress reporter suited to where the output goes; a silent one when disabled."""
    file = file or sys.stderr
    if enabled and file.isatty():
        return tqdm(total=total, desc=desc, unit=unit, file=file, dynamic_ncols=True)
    if enabled:
        return PlainProgress(total=total, desc=desc, unit=unit, file=file)
    return tqdm(total=total, disable=True)
