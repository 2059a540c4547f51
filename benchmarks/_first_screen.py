"""Launch the explorer headless and report when its first screen is fully drawn.

    python benchmarks/_first_screen.py ARCHIVE [--keys N]

Prints one JSON object: seconds from process launch (read from /proc) to the first
screen with every pane filled, the store class the explorer used, and with ``--keys``
p50/p95 milliseconds from a key press to the updated screen (cursor moves in the
navigation pane and filter keystrokes).

The explorer runs as users run it: on the persistent index (``use_index=True``),
with ``app.loading`` turning False once the index is up to date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def since_launch() -> float:
    """Seconds since this process was started (Linux: /proc; else since import)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        start = int(fields[19]) / ticks
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
        return uptime - start
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def measure(archive: Path, keys: int) -> dict[str, object]:
    from tlsrpt_tui.ui.app import ExplorerApp

    app = ExplorerApp([archive], watch=False, use_index=True)
    result: dict[str, object] = {}
    async with app.run_test(size=(180, 50)) as pilot:
        while getattr(app, "loading", False):
            await asyncio.sleep(0.005)
        await pilot.pause()
        result["first_screen_s"] = since_launch()
        result["store"] = type(getattr(app, "store", None)).__name__
        if keys:
            moves: list[float] = []
            for _ in range(keys):
                t = time.perf_counter()
                await pilot.press("down")
                await pilot.pause()
                moves.append((time.perf_counter() - t) * 1000)
            typing: list[float] = []
            await pilot.press("slash")
            await pilot.pause()
            for char in "google":
                t = time.perf_counter()
                await pilot.press(char)
                await pilot.pause()
                typing.append((time.perf_counter() - t) * 1000)
            for name, values in (("cursor move (nav)", moves), ("filter keystroke", typing)):
                result[name] = {
                    "p50": statistics.median(values),
                    "p95": percentile(values, 0.95),
                    "n": len(values),
                }
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("archive", type=Path)
    parser.add_argument("--keys", type=int, default=0)
    args = parser.parse_args()
    result = asyncio.run(measure(args.archive, args.keys))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
