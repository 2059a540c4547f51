"""Every path the app uses, in one place (platformdirs, overridable for tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

APP_NAME = "tlsrpt-tui"


def _dir(env: str, kind: Literal["config", "cache", "data"]) -> Path:
    """The folder ``env`` names, else the platform's own for ``kind`` (platformdirs is
    imported only then: a few milliseconds of every start otherwise)."""
    value = os.environ.get(env)
    if value:
        return Path(value)
    import platformdirs

    if kind == "config":
        return Path(platformdirs.user_config_dir(APP_NAME))
    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP_NAME))
    return Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    return _dir("TLSRPT_TUI_CONFIG_DIR", "config")


def config_file() -> Path:
    return config_dir() / "settings.toml"


def cache_dir() -> Path:
    return _dir("TLSRPT_TUI_CACHE_DIR", "cache")


def data_dir() -> Path:
    return _dir("TLSRPT_TUI_DATA_DIR", "data")


def default_reports_dir() -> Path:
    return data_dir() / "reports"


def demo_archive() -> Path:
    """The bundled demo archive (package data)."""
    return Path(__file__).parent / "demo" / "archive"
