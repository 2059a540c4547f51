"""The index's tables (see :mod:`tlsrpt_tui.store.sqlite` for what they hold).

A module of its own: the workers of a cold build make their batches in these tables
too (:mod:`tlsrpt_tui.store.batch`), without importing the store.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files(
    id INTEGER PRIMARY KEY, key BLOB NOT NULL, display TEXT NOT NULL,
    size INTEGER NOT NULL, mtime INTEGER NOT NULL);
CREATE TABLE reports(
    id INTEGER PRIMARY KEY, khash INTEGER NOT NULL, key TEXT NOT NULL,
    reporter TEXT NOT NULL, report_id TEXT NOT NULL, day INTEGER NOT NULL,
    file INTEGER, seq INTEGER, part TEXT, u0 INTEGER, u1 INTEGER, p0 INTEGER,
    p1 INTEGER, f0 INTEGER, f1 INTEGER);
CREATE TABLE copies(
    id INTEGER PRIMARY KEY, report INTEGER NOT NULL, file INTEGER NOT NULL,
    seq INTEGER NOT NULL, part TEXT);
CREATE TABLE sigs(
    id INTEGER PRIMARY KEY, domain TEXT NOT NULL, reporter TEXT NOT NULL,
    hay TEXT NOT NULL, units INTEGER NOT NULL DEFAULT 0, leads INTEGER NOT NULL DEFAULT 0,
    successful INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
    first INTEGER, last INTEGER);
CREATE TABLE units(
    id INTEGER PRIMARY KEY, report INTEGER NOT NULL, sig INTEGER NOT NULL,
    domain TEXT NOT NULL, reporter TEXT NOT NULL, day INTEGER NOT NULL,
    successful INTEGER NOT NULL, failed INTEGER NOT NULL, lead INTEGER NOT NULL, rtc TEXT,
    folded INTEGER NOT NULL DEFAULT 0);
CREATE TABLE policies(
    id INTEGER PRIMARY KEY, unit INTEGER NOT NULL, sig INTEGER NOT NULL,
    domain TEXT NOT NULL, reporter TEXT NOT NULL, day INTEGER NOT NULL,
    policy_type TEXT NOT NULL, sts_mode TEXT, mx TEXT NOT NULL,
    successful INTEGER NOT NULL, failed INTEGER NOT NULL, first INTEGER NOT NULL);
CREATE TABLE failures(
    id INTEGER PRIMARY KEY, unit INTEGER NOT NULL, domain TEXT NOT NULL,
    reporter TEXT NOT NULL, day INTEGER NOT NULL, result_type TEXT NOT NULL,
    mx_hostname TEXT, receiving_ip TEXT, sending_ip TEXT, helo TEXT, info TEXT,
    reason TEXT, count INTEGER NOT NULL, haystack TEXT NOT NULL);
CREATE TABLE errors(
    id INTEGER PRIMARY KEY, file INTEGER NOT NULL, seq INTEGER NOT NULL, part TEXT,
    message TEXT NOT NULL);
CREATE TABLE daily_domain(
    domain TEXT NOT NULL, day INTEGER NOT NULL, successful INTEGER NOT NULL,
    failed INTEGER NOT NULL, units INTEGER NOT NULL, PRIMARY KEY (domain, day))
    WITHOUT ROWID;
CREATE TABLE daily_reporter(
    reporter TEXT NOT NULL, day INTEGER NOT NULL, successful INTEGER NOT NULL,
    failed INTEGER NOT NULL, leads INTEGER NOT NULL, PRIMARY KEY (reporter, day))
    WITHOUT ROWID;
CREATE TABLE policy_types(
    domain TEXT NOT NULL, policy_type TEXT NOT NULL, successful INTEGER NOT NULL,
    failed INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (domain, policy_type))
    WITHOUT ROWID;
CREATE TABLE type_totals(
    domain TEXT NOT NULL, result_type TEXT NOT NULL, count INTEGER NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (domain, result_type)) WITHOUT ROWID;
CREATE TABLE cache(name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE folders(
    key BLOB PRIMARY KEY, parent BLOB, dev INTEGER, ino INTEGER, mtime INTEGER,
    ctime INTEGER) WITHOUT ROWID;
"""


#: The tables a cold build's batch fills, in the order they are copied.
BATCH_TABLES = ("files", "reports", "units", "policies", "failures", "errors")


def table_schema(names: tuple[str, ...]) -> str:
    """The CREATE TABLE statements of some of the tables (exactly as the index has them:
    SQLite copies rows between identical tables without decoding them)."""
    statements = [s.strip() for s in SCHEMA.split(";") if s.strip()]
    chosen = [s for s in statements if s.split("(", 1)[0].split()[-1] in names]
    return ";\n".join(chosen) + ";\n"
