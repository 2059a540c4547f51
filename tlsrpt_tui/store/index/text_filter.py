"""What a text filter reads once and then filters in memory: the policies and the
failures summed per signature (the explorer loads them while idle, see
:meth:`SqliteStore.prepare_text_filter`)."""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple


def policy_groups(conn: sqlite3.Connection) -> dict[int, list[tuple[Any, ...]]]:
    """Policies summed per (signature, type, mode, MX): signature -> rows."""
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for sig, *rest in conn.execute(
        "SELECT sig, policy_type, sts_mode, mx, sum(successful), sum(failed),"
        " sum(first), min(day), max(day) FROM policies"
        " GROUP BY sig, policy_type, sts_mode, mx"
    ):
        groups.setdefault(sig, []).append(tuple(rest))
    return groups


def failure_groups(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Failures summed per (what a failure row shows, reporter, text): domain -> rows."""
    by_domain: dict[str, list[tuple[Any, ...]]] = {}
    for row in conn.execute(
        "SELECT result_type, domain, mx_hostname, receiving_ip, sending_ip, helo,"
        " info, reason, reporter, haystack, sum(count), min(day), max(day)"
        " FROM failures GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    ):
        by_domain.setdefault(row[1], []).append(row)
    return by_domain


class Signature(NamedTuple):
    """A distinct (domain, reporter, haystack) and its totals: what a text filter scans
    (``sigs`` rows; ``first``/``last`` are day ordinals, None for no day)."""

    id: int
    domain: str
    reporter: str
    hay: str
    units: int
    leads: int
    successful: int
    failed: int
    first: int | None
    last: int | None


def signatures(conn: sqlite3.Connection) -> list[Signature]:
    """Every signature with units."""
    return list(
        map(
            Signature._make,
            conn.execute(
                "SELECT id, domain, reporter, hay, units, leads, successful, failed, first,"
                " last FROM sigs WHERE units > 0"
            ),
        )
    )
