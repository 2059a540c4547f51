"""Launch the explorer headless and report when its first screen is fully drawn.

    python benchmarks/_first_screen.py ARCHIVE [--keys N]

Prints one JSON object: seconds from process launch (read from /proc) to the first
screen with every pane filled with the archive's data (``first_screen_s``: the app
notes when it painted it), to the archive being up to date (``up_to_date_s``: every
file checked, ``app.loading`` False), the store class the explorer used, and with
``--keys`` p50/p95 milliseconds from a key press to the last screen update it caused
(cursor moves in the navigation and policy panes, filter keystrokes).

The explorer runs as users run it: on the persistent index (``use_index=True``). With
an index present it draws the index as it was left at once and checks the files in
the background; without one, the first screen waits for the index to be built.
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
from typing import Any

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


class PaintClock:
    """Timestamps of the screen updates the app paints.

    Headless Textual builds each update but skips turning it into terminal output; the
    clock does that step too (into a string), so its cost is part of the measurement
    as it is on a real terminal.
    """

    def __init__(self, app: Any) -> None:
        self.last = 0.0
        self.paints = 0
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            render = getattr(renderable, "render_segments", None)
            if render is not None:
                render(app.console)
            self.last = time.perf_counter()
            self.paints += 1

        app._display = display


async def key_latency(app: Any, pilot: Any, clock: PaintClock, key: str) -> float:
    """Milliseconds from a key press to the last screen update it caused.

    ``pilot.press`` then waits until the app is idle (Textual's test harness sleeps in
    20 ms steps until the process stops using CPU); that wait is not the app's and is
    not counted: the figure ends at the last paint.
    """
    started = time.perf_counter()
    clock.last = 0.0
    await pilot.press(key)
    await pilot.pause()
    if clock.last < started:  # nothing changed on screen
        return 0.0
    return (clock.last - started) * 1000


async def measure(archive: Path, keys: int) -> dict[str, object]:
    from tlsrpt_tui.ui.app import ExplorerApp

    app = ExplorerApp([archive], watch=False, use_index=True)
    result: dict[str, object] = {}
    async with app.run_test(size=(180, 50)) as pilot:
        clock = PaintClock(app)
        timings = getattr(app, "timings", {})
        while "first_screen" not in timings and getattr(app, "loading", False):
            await asyncio.sleep(0.002)
        if "first_screen" in timings:
            # The panes drawn with the archive's data (from the index as it was left).
            drawn_ago = time.perf_counter() - timings["first_screen"]
            result["first_screen_s"] = since_launch() - drawn_ago
        while getattr(app, "loading", False):
            await asyncio.sleep(0.005)
        await pilot.pause()
        # Every file checked (and any new or changed one read): the archive is current.
        result["up_to_date_s"] = since_launch()
        result.setdefault("first_screen_s", result["up_to_date_s"])
        result["store"] = type(getattr(app, "store", None)).__name__
        if keys:
            moves = [await key_latency(app, pilot, clock, "down") for _ in range(keys)]
            moves += [await key_latency(app, pilot, clock, "up") for _ in range(keys // 2)]
            await pilot.press("enter")  # drill into the policies
            await pilot.pause()
            policy_moves = [await key_latency(app, pilot, clock, "down") for _ in range(keys // 2)]
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("slash")
            await pilot.pause()
            typing = []
            # Three filters, typed and deleted a key at a time: each key asks new
            # questions (a filter typed again would find its answers remembered).
            for word in ("google.com", "microsoft", "mx2.example"):
                typing += [await key_latency(app, pilot, clock, char) for char in word]
                typing += [await key_latency(app, pilot, clock, "backspace") for _ in word]
            for name, values in (
                ("cursor move (nav)", moves),
                ("cursor move (policies)", policy_moves),
                ("filter keystroke", typing),
            ):
                result[name] = {
                    "p50": statistics.median(values),
                    "p95": percentile(values, 0.95),
                    "max": max(values),
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
