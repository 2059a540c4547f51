"""Making untrusted text safe to show."""

from __future__ import annotations

import re

# C0 and C1 controls and DEL; tab is escaped too so columns stay aligned. Unpaired
# surrogates (a file name's undecodable bytes, JSON's "\\ud800") cannot be printed at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: str) -> str:
    """``value`` with control characters (ESC, BEL, CR, bidi overrides...) shown escaped.

    The result never moves the cursor, rings the bell or reorders text on a terminal.
    """
    return _CONTROL.sub(_escape, value)
