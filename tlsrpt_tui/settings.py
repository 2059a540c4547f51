"""User settings: a small, human-editable TOML file in the user config dir.

Unknown keys are kept out of the way, wrong types fall back to defaults with a
warning, and a missing file means defaults: the app never refuses to start over it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tlsrpt_tui.core.health.alerts import Thresholds
from tlsrpt_tui.locations import config_file


@dataclass
class Settings:
    report_dir: str = ""
    theme: str = "textual-dark"
    pivot: str = "domain"
    max_decompressed_mb: int = 64
    thresholds: Thresholds = field(default_factory=Thresholds)
    warnings: list[str] = field(default_factory=list, compare=False)

    def to_toml(self) -> str:
        lines = [
            "# tlsrpt-tui settings. Edit freely; delete to restore defaults.",
            f"report_dir = {_toml_str(self.report_dir)}",
            f"theme = {_toml_str(self.theme)}",
            f"pivot = {_toml_str(self.pivot)}",
            f"max_decompressed_mb = {self.max_decompressed_mb}",
            "",
            "[thresholds]",
        ]
        for key, value in asdict(self.thresholds).items():
            lines.append(f"{key} = {value!r}")
        return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    # TOML basic strings may not hold control characters (a newline in a path would
    # make the whole file unreadable, losing every setting): escape them.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped)
    return f'"{escaped}"'


#: Smallest accepted value of numeric settings (0 for those not listed).
_MINIMUM: dict[str, int] = {"max_decompressed_mb": 1}


def _apply(target: Any, data: dict[str, Any], warnings: list[str], prefix: str = "") -> None:
    for f in fields(target):
        if f.name == "warnings" or f.name not in data:
            continue
        value = data[f.name]
        current = getattr(target, f.name)
        if isinstance(current, Thresholds):
            if isinstance(value, dict):
                _apply(current, value, warnings, prefix=f"{f.name}.")
            else:
                warnings.append(f"{prefix}{f.name}: expected a table")
            continue
        expected = type(current)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool):
            warnings.append(f"{prefix}{f.name}: expected {expected.__name__}, kept default")
        elif isinstance(value, int | float) and not value >= _MINIMUM.get(f.name, 0):
            # Negative counts, rates and NaN make no sense; a 0 MB cap refuses every gzip.
            least = _MINIMUM.get(f.name, 0)
            warnings.append(f"{prefix}{f.name}: must be at least {least}, kept default")
        else:
            setattr(target, f.name, value)


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_file()
    settings = Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return settings
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        settings.warnings.append(f"{path}: {exc}; using defaults")
        return settings
    _apply(settings, data, settings.warnings)
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> None:
    path = path or config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(settings.to_toml(), encoding="utf-8")
    tmp.replace(path)
