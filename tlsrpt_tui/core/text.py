"""Making untrusted text safe to show: the one place that escapes it.

Three rules, for three jobs, written in one notation (``\\x1b``, ``\\u202e``,
``\\U0001f600``):

* :func:`plain`: what a terminal would act on (controls, bidi overrides, lone
  surrogates) in text the views show.
* :func:`printable`: every control, format and unassigned character, and the
  backslash itself (so the escape cannot be mistaken for the text), for guidance and
  command-line messages that quote a value.
* :func:`printable_path`: a file name's undecodable bytes as ``\\xNN`` of the byte (not
  U+FFFD: two names differing only in such bytes must stay two names).

And :func:`clean`, which makes text storable in SQLite (not an escaper: lone
surrogates become U+FFFD).
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls and DEL; tab is escaped too so columns stay aligned. Unpaired
# surrogates (a file name's undecodable bytes, JSON's "\\ud800") cannot be printed at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _notation(code: int) -> str:
    """A code point as Python writes it escaped."""
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _escape(match: re.Match[str]) -> str:
    return _notation(ord(match.group()))


def plain(value: str) -> str:
    """``value`` with control characters (ESC, BEL, CR, bidi overrides...) shown escaped.

    The result never moves the cursor, rings the bell or reorders text on a terminal.
    """
    return _CONTROL.sub(_escape, value)


# What must not reach a terminal from inside a JSON string: the controls above (but
# not the tab, newline and return that JSON's own syntax may hold between tokens),
# and invisible marks that reorder or hide text (bidi marks, zero-width characters).
_JSON_UNSAFE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
    r"\u2060-\u2069\ufeff\ud800-\udfff]"
)


def printable(value: str) -> str:
    """``value`` with control, format and unassigned characters (and backslashes)
    escaped in Python's ``\\x1b`` / ``\\u202e`` notation, safe to print anywhere."""
    out: list[str] = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char)[0] == "C":
            out.append(_notation(ord(char)))
        else:
            out.append(char)
    return "".join(out)


def printable_path(path: str) -> str:
    """A path safe to print: undecodable bytes of a file name are shown as ``\\xNN``.

    (Not U+FFFD: two names differing only in such bytes must stay two names.)
    """
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def json_escaped(text: str) -> str:
    """JSON text with each such character written as a ``\\uXXXX`` escape.

    JSON's own syntax is ASCII, so these can only be inside strings, where the escape
    means the same character: the result is still valid JSON with the same value.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def clean(value: str) -> str:
    """``value`` storable in SQLite: lone surrogates (from JSON escapes) become U+FFFD."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value
