"""Messages that workers post to the app (typed, one place)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tlsrpt_tui.core.model import LoadResult, Report


@dataclass
class LoadProgress(Message):
    """Files read so far during the initial scan."""

    done: int
    total: int
    rate: float  # files per second


@dataclass
class ResultsLoaded(Message):
    """A batch of parsed files, with where each lives on disk."""

    batch: list[tuple[LoadResult, str]]
    final: bool = False


@dataclass
class FilesChanged(Message):
    """The watcher re-read these files (with where each lives) and dropped those."""

    loaded: list[tuple[LoadResult, str]]
    removed: list[str]


@dataclass
class IndexChanged(Message):
    """The index took in what the watcher saw; ``new_reports`` are new to the archive."""

    new_reports: list[Report]
