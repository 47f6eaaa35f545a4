"""What a `train-many` run shows while it works: a line per image whenever its state changes, and
one overall bar. On a terminal the bar stays on the last line; in a log it is a line of its own
after each change of state, so a log still tells how far the run had got."""

from __future__ import annotations

import click

from singan_tf.many.report import ImageRow, counts

BAR_WIDTH = 30


class ProgressDisplay:
    def __init__(self, rows: list[ImageRow], enabled: bool, terminal: bool):
        self.rows, self.enabled, self.terminal = rows, enabled, terminal
        self._bar_shown = False

    def change(self, row: ImageRow, event: str, state: str | None = None) -> None:
        """`event` is what happened to `row`; `state` its new state, if it changed (the bar moves)."""
        if state:
            row.state = state
        if not self.enabled:
            return
        self._clear_bar()
        click.echo(f"{row.output}: {event}")
        if state or self.terminal:
            self._show_bar()

    def close(self) -> None:
        if self._bar_shown:
            click.echo()
            self._bar_shown = False

    def bar(self) -> str:
        n = counts(self.rows)
        finished = n["done"] + n["skipped"] + n["failed"]
        filled = BAR_WIDTH * finished // max(len(self.rows), 1)
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {finished}/{len(self.rows)}  done {n['done']}  "
                f"skipped {n['skipped']}  running {n['running']}  failed {n['failed']}  queued {n['queued']}")

    def _show_bar(self) -> None:
        if self.terminal:
            click.echo(self.bar(), nl=False)
            self._bar_shown = True
        else:
            click.echo(self.bar())

    def _clear_bar(self) -> None:
        if self._bar_shown:
            click.echo("\r\x1b[K", nl=False)
            self._bar_shown = False
