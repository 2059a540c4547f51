"""The raw view: a report's JSON exactly as the reporter sent it, read again from its
file (or the MIME part, or the item of a JSON array, it came in)."""

from __future__ import annotations

import json
import re
from email.message import Message
from pathlib import Path
from typing import Any

from tlsrpt_tui.core.model import Source
from tlsrpt_tui.core.reading.loader import (
    DEFAULT_LIMITS,
    GZIP_MAGIC,
    UTF8_BOM,
    Limits,
    ReportError,
    decode_json,
    gunzip_capped,
    parse_message,
    report_parts,
    sniff,
    split_mbox,
)


def read_raw(source: Source, *, limits: Limits = DEFAULT_LIMITS, root: Path | None = None) -> Any:
    """The decoded JSON of the report at ``source``, exactly as the reporter sent it.

    ``root`` is the archive root that ``source.path`` is relative to. Raises
    :class:`ReportError` (or OSError) when the file no longer holds that report.
    """
    return read_raw_text(source, limits=limits, root=root)[0]


def read_raw_text(
    source: Source, *, limits: Limits = DEFAULT_LIMITS, root: Path | None = None
) -> tuple[Any, str]:
    """:func:`read_raw`, and the report's JSON text as received (UTF-8 decoded, without
    a byte order mark; for one item of a JSON array, that item as compact JSON)."""
    path = Path(source.path) if root is None else _join(root, source.path)
    data = path.read_bytes()
    if len(data) > limits.max_file_bytes:
        raise ReportError("file is over the size limit")
    part = source.part
    item: int | None = None
    if part is not None and (match := re.search(r"(?:^|, )item (\d+)$", part)):
        item = int(match[1])
        part = part[: match.start()] or None
    payload = data if part is None else _raw_from_container(data, part)
    if payload.startswith(GZIP_MAGIC):
        payload = gunzip_capped(payload, limits.max_decompressed_bytes)
    obj = decode_json(payload)[0]
    text = payload.removeprefix(UTF8_BOM).decode("utf-8")  # (decode_json checked it)
    if item is not None:
        if not isinstance(obj, list) or item >= len(obj):
            raise ReportError(f"no item {item} in {source.describe()}")
        return obj[item], json.dumps(obj[item], ensure_ascii=False)
    return obj, text


def _join(root: Path, shown: str) -> Path:
    return root if not root.is_dir() else root / shown


def _raw_from_container(data: bytes, part: str) -> bytes:
    """The payload of the MIME part named ``part`` (as the loader names it)."""
    messages: list[tuple[str | None, Message]]
    if sniff(data) == "mbox":
        messages = [(f"message {i}", parse_message(c)) for i, c in enumerate(split_mbox(data), 1)]
    else:
        messages = [(None, parse_message(data))]
    for label, message in messages:
        for number, mime_part, filename in report_parts(message):
            name = f"part {number}" + (f" ({filename})" if filename else "")
            full = name if label is None else f"{label}, {name}"
            if full == part:
                payload = mime_part.get_payload(decode=True)
                if not isinstance(payload, bytes):
                    raise ReportError("MIME part is empty")
                return payload
    raise ReportError(f"{part} not found")
