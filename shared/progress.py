"""Progress of one table during a sync: readable INFO lines and the checkpoint cadence.

Checkpointing flushes the SDK runner's buffer to the destination, so checkpointing after every small page is
slow, while checkpointing rarely costs memory and re-reads after a crash. ``checkpoint_due()`` says yes once at
least ``every_rows`` rows or ``every_seconds`` have passed since the last checkpoint; the connector still makes
every ``op.checkpoint`` call itself. Progress lines are logged at most every ``log_every_seconds``, and count the
rows delivered (read but not ``skipped``); the cadence counts every row read, so a page of skipped rows still has
its cursor checkpointed.

Public: TableProgress
"""

import logging
import time
from collections.abc import Callable

DEFAULT_CHECKPOINT_ROWS = 5_000
DEFAULT_CHECKPOINT_SECONDS = 30.0
DEFAULT_LOG_SECONDS = 10.0


class TableProgress:
    def __init__(self, table: str, log=None, *, every_rows: int = DEFAULT_CHECKPOINT_ROWS,
                 every_seconds: float = DEFAULT_CHECKPOINT_SECONDS, log_every_seconds: float = DEFAULT_LOG_SECONDS,
                 unit: str = "pages", clock: Callable[[], float] = time.monotonic):
        self.table = table
        self.unit = unit
        self.log = log or logging.getLogger("shared.progress")
        self.every_rows = every_rows
        self.every_seconds = every_seconds
        self.log_every_seconds = log_every_seconds
        self.clock = clock
        self.rows = 0  # read
        self.delivered = 0  # read and not skipped: what the log lines count
        self.pages = 0
        self._rows_at_checkpoint = 0
        self._checkpointed_at = self._logged_at = clock()
        self.log.info(f"{table}: sync started")

    def page_done(self, rows: int, detail: str = "", *, skipped: int = 0) -> None:
        """Count a page (or report, or window: ``unit``) of ``rows`` read, ``skipped`` of them not upserted, and log a
        progress line if the last one is old enough."""
        self.rows += rows
        self.delivered += rows - skipped
        self.pages += 1
        now = self.clock()
        if now - self._logged_at >= self.log_every_seconds:
            self._logged_at = now
            suffix = f" ({detail})" if detail else ""
            self.log.info(f"{self.table}: {self.delivered} rows so far from {self.pages} {self.unit}{suffix}")

    def checkpoint_due(self) -> bool:
        pending = self.rows - self._rows_at_checkpoint
        overdue = self.clock() - self._checkpointed_at >= self.every_seconds
        return pending >= self.every_rows or (pending > 0 and overdue)

    def checkpointed(self) -> None:
        self._rows_at_checkpoint = self.rows
        self._checkpointed_at = self.clock()

    def finished(self, note: str = "") -> None:
        suffix = f"; {note}" if note else ""
        self.log.info(f"{self.table}: {self.delivered} rows delivered from {self.pages} {self.unit}{suffix}")
