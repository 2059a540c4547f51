"""Every path the app uses, in one place (platformdirs, overridable for tests)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tlsrpt-tui"


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else Path(default)


def config_dir() -> Path:
    return _dir("TLSRPT_TUI_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "settings.toml"


def cache_dir() -> Path:
    return _dir("TLSRPT_TUI_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME))


def data_dir() -> Path:
    return _dir("TLSRPT_TUI_DATA_DIR", platformdirs.user_data_dir(APP_NAME))


def default_reports_dir() -> Path:
    return data_dir() / "reports"


def demo_archive() -> Path:
    """The bundled demo archive (package data)."""
    return Path(__file__).parent / "demo" / "archive"
