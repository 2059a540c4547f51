"""Look-alike names (core/lookalike.py) and the raw view's JSON escaper (core/text.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlsrpt_tui.core.lookalike import lookalike, mixed_scripts, scripts_of
from tlsrpt_tui.core.text import json_escaped


@pytest.mark.parametrize(
    ("name", "scripts"),
    [
        ("p\u0430ypal.test", "Latin and Cyrillic"),  # Cyrillic а
        ("\u03b1pple.com", "Latin and Greek"),  # Greek α
        ("G\u043e\u043egle Inc.", "Latin and Cyrillic"),  # a reporter's name
        ("xn--pypal-4ve.test", "Latin and Cyrillic"),  # the A-label of pаypal
        ("mx1.p\u0430ypal.test", "Latin and Cyrillic"),
    ],
)
def test_mixed_script_names_are_named_with_their_scripts(name: str, scripts: str) -> None:
    reason = lookalike(name)
    assert reason is not None and f"mixes {scripts}" in reason


@pytest.mark.parametrize(
    "name",
    [
        "paypal.test",
        "mx1.example.com",
        "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",  # пример.рф: Cyrillic alone
        "m\u00fcnchen.de",  # Latin with diacritics
        "\u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac.gr",  # Greek alone
        "\u4f8b\u3048.jp",  # Han + Hiragana: Japanese
        "\u3072\u3089\u304c\u306a\u30ab\u30bf\u30ab\u30ca\u6f22\u5b57.jp",
        "\ud55c\uad6d\uc5b4\u6f22\u5b57.kr",  # Hangul + Han: Korean
        "xn--mnchen-3ya.de",  # münchen
        "xn--broken-",  # not punycode: left as it is
        "(unknown)",
        "",
        None,
    ],
)
def test_single_script_names_are_not_marked(name: str | None) -> None:
    assert lookalike(name) is None


def test_invisible_characters_are_named() -> None:
    reason = lookalike("pay\u200bpal.test")
    assert reason is not None and "U+200B" in reason


def test_scripts_of_characters() -> None:
    assert scripts_of("a") == {"Latin"} and scripts_of("\u0430") == {"Cyrillic"}
    assert scripts_of("-") == frozenset() and scripts_of("7") == frozenset()
    # A combining accent goes with the scripts that use it: not a mix with either.
    assert {"Latin", "Cyrillic"} <= scripts_of("\u0301")
    assert lookalike("cafe\u0301.fr") is None and lookalike("\u0430\u0301.ru") is None
    assert mixed_scripts("ab\u0430") == ["Latin", "Cyrillic"]


@pytest.mark.parametrize(
    "value",
    ["a\nb", "\x1b[31m", "\u202eevil\u202c", "\x9b2J", "\ud800", "\u2028", "zero\u200bwidth"],
)
def test_json_escaped_keeps_json_valid_and_meaning_the_same(value: str) -> None:
    text = json_escaped(json.dumps({"k": value}, ensure_ascii=False, indent=2))
    assert json.loads(text) == {"k": value}
    for char in ("\x1b", "\u202e", "\x9b", "\ud800", "\u2028", "\u200b"):
        assert char not in text


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_json_escaped_round_trips(value: object) -> None:
    text = json_escaped(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(text) == value
    assert not any(0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in text)
