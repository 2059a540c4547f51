"""Settings: round trip, wrong types fall back with warnings, corrupt files mean defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsrpt_tui import locations
from tlsrpt_tui.settings import Settings, Thresholds, load_settings, save_settings


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "nope.toml")
    assert loaded == Settings()
    assert loaded.warnings == []


def test_round_trip(tmp_path: Path) -> None:
    original = Settings(
        report_dir='/srv/tls "reports"\\2024',
        theme="nord",
        pivot="reporter",
        max_decompressed_mb=16,
        thresholds=dataclasses.replace(Thresholds(), failure_rate_enforce=0.01, silent_hours=12),
    )
    path = tmp_path / "deep" / "er" / "settings.toml"
    save_settings(original, path)
    loaded = load_settings(path)
    assert loaded == original
    assert loaded.warnings == []
    assert [p.name for p in path.parent.iterdir()] == ["settings.toml"]  # no temp file left


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",))), st.floats(0, 1))
def test_round_trip_any_text(report_dir: str, rate: float) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.toml"
        original = Settings(report_dir=report_dir)
        original.thresholds.failure_rate_testing = rate
        save_settings(original, path)
        loaded = load_settings(path)
        assert loaded.warnings == []
        assert loaded == original


def test_default_location_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSRPT_TUI_CONFIG_DIR", str(tmp_path / "cfg"))
    assert locations.config_file() == tmp_path / "cfg" / "settings.toml"
    save_settings(Settings(theme="gruvbox"))
    assert (tmp_path / "cfg" / "settings.toml").exists()
    assert load_settings().theme == "gruvbox"


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "settings.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_bad_types_fall_back_with_warnings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
report_dir = 5
theme = ["dark"]
pivot = "reporter"
max_decompressed_mb = true
unknown_key = "ignored"

[thresholds]
spike_factor = "lots"
spike_min_sessions = 2.5
silent_hours = 12
failure_rate_enforce = 1
""",
    )
    loaded = load_settings(path)
    defaults = Settings()
    assert loaded.report_dir == defaults.report_dir
    assert loaded.theme == defaults.theme
    assert loaded.max_decompressed_mb == defaults.max_decompressed_mb
    assert loaded.thresholds.spike_factor == defaults.thresholds.spike_factor
    assert loaded.thresholds.spike_min_sessions == defaults.thresholds.spike_min_sessions
    # good values next to bad ones still apply; an int where a float is expected is fine
    assert loaded.pivot == "reporter"
    assert loaded.thresholds.silent_hours == 12
    assert loaded.thresholds.failure_rate_enforce == 1.0
    assert isinstance(loaded.thresholds.failure_rate_enforce, float)
    warned = " ".join(loaded.warnings)
    for key in (
        "report_dir",
        "theme",
        "max_decompressed_mb",
        "thresholds.spike_factor",
        "thresholds.spike_min_sessions",
    ):
        assert key in warned
    assert len(loaded.warnings) == 5


def test_thresholds_not_a_table(tmp_path: Path) -> None:
    loaded = load_settings(write(tmp_path, 'thresholds = "high"\ntheme = "nord"\n'))
    assert loaded.thresholds == Thresholds()
    assert loaded.theme == "nord"
    assert loaded.warnings == ["thresholds: expected a table"]


@pytest.mark.parametrize(
    "content",
    ["theme = ", "[thresholds\nx=1", 'theme = "unterminated', b"theme = '\xff\xfe'\n"],
)
def test_corrupt_file_means_defaults_with_warning(tmp_path: Path, content: str | bytes) -> None:
    path = write(tmp_path, content)
    loaded = load_settings(path)
    assert loaded == Settings()
    assert len(loaded.warnings) == 1
    assert str(path) in loaded.warnings[0]
    assert "using defaults" in loaded.warnings[0]


def test_unreadable_settings_path(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").mkdir()
    loaded = load_settings(tmp_path / "settings.toml")
    assert loaded == Settings()
    assert loaded.warnings


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("max_decompressed_mb = 0", "max_decompressed_mb"),
        ("max_decompressed_mb = -5", "max_decompressed_mb"),
        ("[thresholds]\nsilent_hours = -1", "thresholds.silent_hours"),
        ("[thresholds]\nfailure_rate_enforce = nan", "thresholds.failure_rate_enforce"),
        ("[thresholds]\nspike_factor = -2.0", "thresholds.spike_factor"),
    ],
)
def test_out_of_range_numbers_fall_back_with_warning(tmp_path: Path, text: str, key: str) -> None:
    loaded = load_settings(write(tmp_path, text + "\n"))
    assert loaded == Settings()
    assert len(loaded.warnings) == 1
    assert loaded.warnings[0].startswith(f"{key}: must be at least")
