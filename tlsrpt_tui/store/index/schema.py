"""The index's tables (see :mod:`tlsrpt_tui.store.index` for what they hold).

A module of its own: the workers of a cold build make their batches in these tables
too (:mod:`tlsrpt_tui.store.index.batch`), without importing the store.
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


SCHEMA_VERSION = 5
#: Bump when extraction changes what it stores for the same file.
#: (3: the per-type counting rule; 4: internationalized domains as A-labels, and the walk
#: keeps the entries it used to drop; 5: MX hosts as a JSON array, not a Python repr)
EXTRACT_VERSION = 5


#: The tables holding a report's facts, with its id range columns in ``reports``.
_FACT_RANGES = (("units", "u0", "u1"), ("policies", "p0", "p1"), ("failures", "f0", "f1"))

#: Indexes a refresh that changes anything needs (finding a report by key, a file's
#: rows). A cold build does without them (its dictionary knows every key).
_MAINTENANCE_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS files_key ON files(key)",
    "CREATE INDEX IF NOT EXISTS reports_khash ON reports(khash)",
    "CREATE INDEX IF NOT EXISTS reports_file ON reports(file)",
    "CREATE INDEX IF NOT EXISTS copies_file ON copies(file)",
    "CREATE INDEX IF NOT EXISTS copies_report ON copies(report)",
    "CREATE INDEX IF NOT EXISTS errors_file ON errors(file)",
    "CREATE INDEX IF NOT EXISTS units_sig ON units(sig, day, successful, failed, lead)",
    # The few units with failure-details folded (the summary lists their reports, and a
    # refresh that changes anything recomputes it: no scan of every unit then).
    "CREATE INDEX IF NOT EXISTS units_folded ON units(report) WHERE folded > 0",
)
#: Finding the files of one folder (a quick refresh that found a folder changed).
_FILES_KEY = ("CREATE UNIQUE INDEX IF NOT EXISTS files_key ON files(key)",)
#: Indexes the explorer's queries use (not needed by ``summary``). The unit indexes
#: cover the aggregate queries, which then never touch the table itself.
_QUERY_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS files_key ON files(key)",
    "CREATE INDEX IF NOT EXISTS reports_khash ON reports(khash)",
    "CREATE INDEX IF NOT EXISTS copies_report ON copies(report)",
    "CREATE INDEX IF NOT EXISTS reports_order ON reports(day DESC, reporter DESC, id)",
    "CREATE INDEX IF NOT EXISTS reports_reporter ON reports(reporter, day DESC, id)",
    "CREATE INDEX IF NOT EXISTS units_domain"
    " ON units(domain, day, sig, successful, failed, lead, report)",
    "CREATE INDEX IF NOT EXISTS units_reporter"
    " ON units(reporter, day, sig, successful, failed, lead, report)",
    "CREATE INDEX IF NOT EXISTS units_sig ON units(sig, day, successful, failed, lead)",
    "CREATE INDEX IF NOT EXISTS units_day"
    " ON units(day, sig, domain, reporter, successful, failed, lead)",
    "CREATE INDEX IF NOT EXISTS units_more ON units(report) WHERE lead = 0",
    # Covering (a text filter's 14-day trend: units of the matching signatures by day).
    "CREATE INDEX IF NOT EXISTS units_sig_trend"
    " ON units(sig, day, domain, reporter, successful, failed, lead)",
    # Covering (the policy pane's GROUP BY reads the index alone, in order): a cursor
    # move in the navigation pane asks for one domain's or reporter's policies.
    "CREATE INDEX IF NOT EXISTS policies_by_domain ON policies(domain, policy_type, sts_mode,"
    " reporter, mx, successful, failed, first, day, sig)",
    "CREATE INDEX IF NOT EXISTS policies_by_reporter ON policies(reporter, domain, policy_type,"
    " sts_mode, mx, successful, failed, first, day, sig)",
    "CREATE INDEX IF NOT EXISTS failures_domain ON failures(domain, day)",
    "CREATE INDEX IF NOT EXISTS failures_reporter ON failures(reporter, day)",
    "CREATE INDEX IF NOT EXISTS failures_type ON failures(result_type, unit)",
)

#: The schema a cold build's batch is attached as.
_BATCH = "batch"
