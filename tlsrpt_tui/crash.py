"""The crash log: what an unexpected exception leaves behind, instead of a traceback
(with report text among its locals) on the terminal."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from tlsrpt_tui import __version__
from tlsrpt_tui.locations import cache_dir


def write_crash_log(error: BaseException) -> Path | None:
    """``<cache folder>/crash-<UTC time>.log`` with ``error``'s traceback (the temporary
    folder when the cache folder cannot be written); None when neither can."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    text = (
        f"tlsrpt-tui {__version__} crashed at {datetime.now(UTC).isoformat()}\n"
        f"argv: {sys.argv!r}\n\n" + "".join(traceback.format_exception(error))
    )
    for folder in (cache_dir(), Path(tempfile.gettempdir())):
        path = folder / f"crash-{stamp}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as log:
                log.write(text)
        except OSError:
            continue
        return path
    return None
