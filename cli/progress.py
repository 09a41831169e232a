"""Rich progress bars behind the loaders' Progress protocol."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    def __init__(self, console: Console | None = None, *, bytes_mode: bool = True) -> None:
        columns = [TextColumn("[bold]{task.description}"), BarColumn(),
                   DownloadColumn() if bytes_mode else MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        self._progress = Progress(*columns, console=console or Console(stderr=True), transient=False)

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()

    def task(self, description: str, total: float | None) -> int:
        return int(self._progress.add_task(description, total=total))

    def advance(self, task: int, amount: float) -> None:
        self._progress.advance(TaskID(task), amount)

    def done(self, task: int) -> None:
        t = self._progress.tasks[task] if task < len(self._progress.tasks) else None
        if t is not None and t.total is not None:
            self._progress.update(TaskID(task), completed=t.total)
