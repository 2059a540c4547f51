"""Regenerate screenshots/ from the bundled demo archive.

    .venv/bin/python scripts/make_screenshots.py

Writes an SVG per screen and, when Debian's ``rsvg-convert`` (package librsvg2-bin)
is installed, a PNG beside it.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tlsrpt_tui.locations import demo_archive
from tlsrpt_tui.settings import Settings
from tlsrpt_tui.ui.app import ExplorerApp

OUT = Path(__file__).resolve().parents[1] / "screenshots"

Steps = Callable[[Any], Awaitable[None]]


async def nothing(pilot: Any) -> None:
    return None


async def drill(pilot: Any) -> None:
    await pilot.press("enter", "enter")


async def pivot(pilot: Any) -> None:
    await pilot.press("p")


async def raw(pilot: Any) -> None:
    await pilot.press("r")


async def guide(pilot: Any) -> None:
    await pilot.press("g")


async def trends(pilot: Any) -> None:
    await pilot.press("t")


async def alerts(pilot: Any) -> None:
    await pilot.press("a")


async def help_screen(pilot: Any) -> None:
    await pilot.press("question_mark")


SHOTS: list[tuple[str, tuple[int, int], Steps]] = [
    ("explorer", (120, 40), nothing),
    ("failure-guidance", (120, 40), drill),
    ("reporters", (120, 40), pivot),
    ("raw-report", (120, 40), raw),
    ("guide", (120, 40), guide),
    ("trends", (120, 40), trends),
    ("alerts", (120, 40), alerts),
    ("help", (120, 40), help_screen),
    ("explorer-80x24", (80, 24), nothing),
    ("explorer-200x60", (200, 60), nothing),
]


async def shoot(name: str, size: tuple[int, int], steps: Steps) -> Path:
    app = ExplorerApp([demo_archive()], settings=Settings(), watch=False, label="demo archive")
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await steps(pilot)
        await pilot.pause(0.3)
        path = OUT / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(OUT))
    return path


def svg_for_png(svg: str) -> str:
    """The SVG with its white space kept, as a terminal shows it.

    Textual writes each run of cells as its own ``<text>``; without ``xml:space``
    librsvg trims the space at either end of a run, so "469 reports" beside bold
    text came out as "469reports" in every PNG.
    """
    return svg.replace("<svg ", '<svg xml:space="preserve" ', 1)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    converter = shutil.which("rsvg-convert")
    for name, size, steps in SHOTS:
        svg = asyncio.run(shoot(name, size, steps))
        line = f"wrote {svg.relative_to(OUT.parent)}"
        if converter:
            png = svg.with_suffix(".png")
            subprocess.run(
                [converter, "-o", str(png)],
                input=svg_for_png(svg.read_text(encoding="utf-8")).encode(),
                check=True,
            )
            line += f" and {png.name}"
        print(line)


if __name__ == "__main__":
    main()
