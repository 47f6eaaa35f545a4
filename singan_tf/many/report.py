"""The state of every image of a `train-many` run, and the summary it ends with: a table for people
and BASE/train-many.json for scripts (which images to look at, which to fix and re-run)."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

from singan_tf.model_store import write_json_atomic

SUMMARY_FILE = "train-many.json"
SUCCESS_STATES = ("done", "skipped")
STATES = ("queued", "running", "done", "skipped", "failed")


@dataclasses.dataclass
class ImageRow:
    """One image: where its model goes, and how far it got."""

    image: str
    output: str
    state: str = "queued"
    scales_done: int | None = None
    scales_total: int | None = None
    minutes: float | None = None
    seed: int | None = None
    error: str | None = None

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    @property
    def scales(self) -> str:
        return "-" if self.scales_total is None else f"{self.scales_done}/{self.scales_total}"


def counts(rows: list[ImageRow]) -> dict[str, int]:
    return {state: sum(row.state == state for row in rows) for state in STATES}


def failures(rows: list[ImageRow]) -> int:
    return sum(row.state not in SUCCESS_STATES for row in rows)


def summary_table(rows: list[ImageRow]) -> str:
    """Aligned columns; the error last, so a long reason does not push the others around."""
    header = ["image", "output", "state", "scales", "minutes", "seed", "error"]
    cells = [[row.image, row.output, row.state, row.scales, "-" if row.minutes is None else f"{row.minutes:.1f}",
              "-" if row.seed is None else str(row.seed), row.error or ""] for row in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in [header, *cells])


def write_summary(base: Path, rows: list[ImageRow], settings: dict[str, Any], started: datetime.datetime) -> Path:
    """The table's data plus the command's settings and timing, replaced atomically."""
    finished = datetime.datetime.now(datetime.timezone.utc)
    path = Path(base) / SUMMARY_FILE
    write_json_atomic(path, {
        "settings": settings,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "wall_minutes": round((finished - started).total_seconds() / 60, 3),
        "counts": counts(rows),
        "images": [dataclasses.asdict(row) for row in rows],
    })
    return path
