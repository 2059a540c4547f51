"""Writing rows into the index: first copies primary, promotion, removal, and the
aggregate tables kept in step."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.core.reading.walk import (
    key_location,
)
from tlsrpt_tui.store.index.batch import (
    ID_SPAN,
    BatchOut,
    batch_base,
    clear_stage,
    expand_stage,
    unpack_meta,
)
from tlsrpt_tui.store.index.database import _transaction
from tlsrpt_tui.store.index.rows import (
    FileOut,
    ReportOut,
    SigCollision,
    Sums,
    aggregate_rows,
    extract_batch,
    merge_sums,
    new_sums,
    place_unit,
    sig_hash,
)
from tlsrpt_tui.store.index.schema import _BATCH, _FACT_RANGES, BATCH_TABLES

# --------------------------------------------------------------------------- writing


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class _Writer:
    """Adds files' rows to the index and removes them, keeping first copies primary.

    A report's first copy (in scan order) is its ``reports`` row, whose facts are in
    the fact tables; further copies are ``copies`` rows. ``file`` is NULL while a
    report waits for its next copy to be promoted. The aggregate tables follow every
    change of the fact tables (:func:`_aggregate`).
    """

    def __init__(
        self, conn: sqlite3.Connection, roots: Sequence[Path], *, bulk: bool, lazy: bool = False
    ) -> None:
        self.conn = conn
        self.roots = roots
        self.bulk = bulk
        self.new_reports = 0
        self.next: dict[str, int] = {}
        self.sigs: dict[tuple[str, str, str], int] = {}
        self.sig_ids: dict[int, tuple[str, str, str]] = {}
        self.known: dict[int, int] = {}
        self.exact: dict[str, int] = {}
        self.batch_keys: dict[int, str] = {}
        #: A cold build's sums for the aggregate tables (see add_batch)
        self.sums: Sums = new_sums()
        self.ready = False
        if not lazy:
            self._prepare()

    def _prepare(self) -> None:
        """Read the next ids and the signatures (not needed when nothing changed)."""
        if self.ready:
            return
        self.ready = True
        conn = self.conn
        for table in ("files", "reports", "units", "policies", "failures"):
            top = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
            self.next[table] = (top or 0) + 1
        # Signatures: (domain, reporter, haystack) -> id. Few, so all in memory.
        if conn.execute("SELECT 1 FROM meta WHERE name='stale'").fetchone() is None:
            conn.execute("DELETE FROM sigs WHERE units = 0")  # (counts are up to date)
        self.sig_ids = {
            sid: (domain, reporter, hay)
            for sid, domain, reporter, hay in conn.execute(
                "SELECT id, domain, reporter, hay FROM sigs"
            )
        }
        self.sigs = {sig: sid for sid, sig in self.sig_ids.items()}
        # ``known``: key hash -> report id for reports added in this session (all of
        # them in bulk mode, where the table was empty); keys whose hash collides go to
        # ``exact``.

    # -- lookups ---------------------------------------------------------------------

    def _lookup(self, key: str, khash: int) -> int | None:
        rid = self.exact.get(key)
        if rid is not None:
            return rid
        rid = self.known.get(khash)
        if rid is not None:
            stored = self.batch_keys.get(rid)
            if stored is None:
                row = self.conn.execute("SELECT key FROM reports WHERE id=?", (rid,)).fetchone()
                stored = row[0] if row else None
            if stored == key:
                return rid
        if self.bulk:
            return None
        row = self.conn.execute(
            "SELECT id FROM reports WHERE khash=? AND key=?", (khash, key)
        ).fetchone()
        return None if row is None else int(row[0])

    def _remember(self, key: str, khash: int, rid: int) -> None:
        if khash in self.known:
            self.exact[key] = rid
        else:
            self.known[khash] = rid

    # -- adding ----------------------------------------------------------------------

    def add(self, items: Sequence[tuple[bytes, str, int, int, FileOut]]) -> list[tuple[int, int]]:
        """Add files: (key, display, size, mtime, rows) each, in key order.

        Returns (item index, report index) of the reports that were new to the index.
        """
        files_rows: list[tuple[Any, ...]] = []
        error_rows: list[tuple[Any, ...]] = []
        report_rows: list[tuple[Any, ...]] = []
        later: list[tuple[int, bytes, int, int, ReportOut]] = []
        created: list[tuple[int, int]] = []
        facts = _Facts(self)
        known = self.known
        batch_keys: dict[int, str] = {}
        self.batch_keys = batch_keys
        fid = self.next["files"]
        rid_next = self.next["reports"]
        for index, (fkey, display, size, mtime, (reports, errors)) in enumerate(items):
            files_rows.append((fid, fkey, display, size, mtime))
            for seq, (part, message) in enumerate(errors):
                error_rows.append((fid, seq, part, message))
            for seq, rep in enumerate(reports):
                key, khash = rep[0], rep[1]
                if self.bulk and khash not in known and not self.exact:
                    rid = None
                else:
                    rid = self._lookup(key, khash)
                if rid is None:
                    rid = rid_next
                    rid_next += 1
                    self._remember(key, khash, rid)
                    batch_keys[rid] = key
                    created.append((index, seq))
                    report_rows.append(
                        (rid, khash, key, rep[2], rep[3], rep[4], fid, seq, rep[5],
                         *facts.add(rid, rep))
                    )  # fmt: skip
                else:
                    later.append((rid, fkey, fid, seq, rep))
            fid += 1
        self.next["files"] = fid
        self.next["reports"] = rid_next
        conn = self.conn
        conn.executemany("INSERT INTO files VALUES (?,?,?,?,?)", files_rows)
        conn.executemany(
            "INSERT INTO errors(file, seq, part, message) VALUES (?,?,?,?)", error_rows
        )
        conn.executemany(f"INSERT INTO reports VALUES ({_marks(15)})", report_rows)
        facts.write()
        for rid, fkey, file_id, seq, rep in later:
            self._another_copy(rid, fkey, file_id, seq, rep)
        self.new_reports += len(created)
        return created

    def _another_copy(self, rid: int, fkey: bytes, fid: int, seq: int, rep: ReportOut) -> None:
        """A further copy of a known report: it becomes primary if it comes first."""
        conn = self.conn
        row = conn.execute(
            "SELECT r.file, f.key, r.seq, r.part FROM reports r LEFT JOIN files f ON f.id = r.file"
            " WHERE r.id = ?",
            (rid,),
        ).fetchone()
        if row[0] is None:
            first = conn.execute(
                "SELECT f.key, c.seq FROM copies c JOIN files f ON f.id = c.file"
                " WHERE c.report = ? ORDER BY f.key, c.seq LIMIT 1",
                (rid,),
            ).fetchone()
            if first is not None and (first[0], first[1]) < (fkey, seq):
                self._copy(rid, fid, seq, rep[5])  # promoted after the batch
                return
        elif (fkey, seq) < (row[1], row[2]):
            self._copy(rid, row[0], row[2], row[3])
            self.drop_facts([rid])
        else:
            self._copy(rid, fid, seq, rep[5])
            return
        self._set_primary(rid, fid, seq, rep[5], rep)

    def _set_primary(self, rid: int, fid: int, seq: int, part: str | None, rep: ReportOut) -> None:
        facts = _Facts(self)
        ranges = facts.add(rid, rep)
        facts.write()
        self.conn.execute(
            "UPDATE reports SET file=?, seq=?, part=?, u0=?, u1=?, p0=?, p1=?, f0=?, f1=?"
            " WHERE id=?",
            (fid, seq, part, *ranges, rid),
        )

    def _copy(self, rid: int, fid: int, seq: int, part: str | None) -> None:
        self.conn.execute(
            "INSERT INTO copies(report, file, seq, part) VALUES (?,?,?,?)", (rid, fid, seq, part)
        )

    def sig(self, domain: str, reporter: str, hay: str, new: list[tuple[Any, ...]]) -> int:
        """A signature's id: its hash, as cold builds number them (the next free number
        if another signature has it)."""
        key = (domain, reporter, hay)
        sid = self.sigs.get(key)
        if sid is None:
            sid = sig_hash(domain, reporter, hay)
            while sid in self.sig_ids:
                sid = sid + 1 if sid < 2**63 - 1 else -(2**63)
            self.sigs[key] = sid
            self.sig_ids[sid] = key
            new.append((sid, domain, reporter, hay))
        return sid

    # -- adding a cold build's batches --------------------------------------------------

    def add_batch(self, out: BatchOut) -> int:
        """Add a batch of a cold build (files in scan order, after every file already
        added) as :func:`build_batch` made it, in a transaction of its own. SQLite copies
        the batch's tables as they are (a report seen before becomes a copy first).
        Returns how many files were indexed."""
        self._prepare()
        conn = self.conn
        number, database, meta = out
        files, khashes, sigs, sums = unpack_meta(meta)
        new_sigs = {}
        for sid, sig in sigs.items():
            have = self.sig_ids.get(sid)
            if have is None:
                new_sigs[sid] = sig
            elif have != sig:
                raise SigCollision
        conn.deserialize(database, name=_BATCH)  # (not possible inside a transaction)
        with _transaction(conn):
            base = batch_base(number)
            known = self.known
            fresh = known.keys().isdisjoint(khashes) and len(set(khashes)) == len(khashes)
            if fresh and not self.bulk:
                fresh = not self._indexed(khashes)
            if fresh:
                known.update(zip(khashes, range(base, base + len(khashes)), strict=True))
                self.new_reports += len(khashes)
            else:
                # (rare: the staged files become rows of the batch, to be sorted out there)
                expand_stage(conn, _BATCH, _BATCH, number)
                clear_stage(conn, _BATCH)
                self._keep_first_copies()
                if self.bulk:  # (what is left of the batch)
                    sums = aggregate_rows(
                        conn.execute(f"SELECT * FROM {_BATCH}.units"),
                        conn.execute(f"SELECT * FROM {_BATCH}.policies"),
                    )
            if new_sigs:
                conn.executemany(
                    "INSERT INTO sigs(id, domain, reporter, hay) VALUES (?,?,?,?)",
                    [(sid, *sig) for sid, sig in new_sigs.items()],
                )
            for table in BATCH_TABLES:
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM {_BATCH}.{table}")
            expand_stage(conn, _BATCH, "main", number)
            if not self.bulk:
                # (an index in use: its aggregate tables follow, by this batch's id range)
                _aggregate(conn, base, base + ID_SPAN - 1, base, base + ID_SPAN - 1, 1)
            elif sums[2]:
                # The aggregate tables are written at the end (write_sums); until then (or
                # after an interruption) they are stale, and _rebuild_aggregates fixes them.
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('stale', '1')")
        for sid, sig in new_sigs.items():
            self.sig_ids[sid] = sig
            self.sigs[sig] = sid
        if self.bulk:
            merge_sums(self.sums, sums)
        return files

    def _indexed(self, khashes: Sequence[int]) -> bool:
        """Whether a report with one of these key hashes is in the index already."""
        return any(
            self.conn.execute(
                f"SELECT 1 FROM reports WHERE khash IN ({_marks(len(chunk))}) LIMIT 1", chunk
            ).fetchone()
            for chunk in _chunks(khashes)
        )

    def _keep_first_copies(self) -> None:
        """Turn the batch's reports seen before into copies (batches come in scan order,
        after every file indexed: a report seen before is never the first copy),
        dropping their facts from the batch."""
        conn = self.conn
        batch_keys: dict[int, str] = {}
        self.batch_keys = batch_keys
        copies: list[tuple[int, int, int, str | None]] = []
        dropped: list[tuple[int]] = []
        for rid, khash, key, fid, seq, part in conn.execute(
            f"SELECT id, khash, key, file, seq, part FROM {_BATCH}.reports ORDER BY id"
        ).fetchall():
            have = self._lookup(key, khash)
            if have is not None:
                copies.append((have, fid, seq, part))
                dropped.append((rid,))
                continue
            self._remember(key, khash, rid)
            batch_keys[rid] = key
        self.new_reports += len(batch_keys)
        if dropped:
            conn.executemany(f"DELETE FROM {_BATCH}.reports WHERE id = ?", dropped)
            conn.execute(
                f"DELETE FROM {_BATCH}.units WHERE report NOT IN (SELECT id FROM {_BATCH}.reports)"
            )
            for table in ("policies", "failures"):
                conn.execute(
                    f"DELETE FROM {_BATCH}.{table}"
                    f" WHERE unit NOT IN (SELECT id FROM {_BATCH}.units)"
                )
            conn.executemany("INSERT INTO copies(report, file, seq, part) VALUES (?,?,?,?)", copies)

    def write_sums(self) -> None:
        """Write the aggregate tables from a cold build's sums (in a transaction)."""
        conn = self.conn
        domains, reporters, sigs, types, results = self.sums
        for table in ("daily_domain", "daily_reporter", "policy_types", "type_totals"):
            conn.execute(f"DELETE FROM {table}")
        conn.executemany(
            "INSERT INTO daily_domain VALUES (?,?,?,?,?)", [(*k, *v) for k, v in domains.items()]
        )
        conn.executemany(
            "INSERT INTO daily_reporter VALUES (?,?,?,?,?)",
            [(*k, *v) for k, v in reporters.items()],
        )
        conn.execute(
            "UPDATE sigs SET units = 0, leads = 0, successful = 0, failed = 0, first = NULL,"
            " last = NULL"
        )
        conn.executemany(
            "UPDATE sigs SET units = ?, leads = ?, successful = ?, failed = ?, first = ?,"
            " last = ? WHERE id = ?",
            [(*v, k) for k, v in sigs.items()],
        )
        conn.executemany(
            "INSERT INTO policy_types VALUES (?,?,?,?,?)", [(*k, *v) for k, v in types.items()]
        )
        conn.executemany(
            "INSERT INTO type_totals VALUES (?,?,?,?)", [(*k, *v) for k, v in results.items()]
        )
        conn.execute("DELETE FROM meta WHERE name='stale'")

    # -- removing ----------------------------------------------------------------------

    def drop_facts(self, rids: Iterable[int]) -> None:
        """Delete reports' facts and mark them as waiting for a copy to be promoted."""
        conn = self.conn
        dropped = False
        for rid in rids:
            row = conn.execute(
                "SELECT u0, u1, p0, p1, f0, f1 FROM reports WHERE id=?", (rid,)
            ).fetchone()
            if row is None or row[0] is None:
                continue
            _aggregate(conn, row[0], row[1], row[2], row[3], -1)
            for (table, _lo, _hi), lo, hi in zip(_FACT_RANGES, row[::2], row[1::2], strict=True):
                if hi >= lo:
                    conn.execute(f"DELETE FROM {table} WHERE id BETWEEN ? AND ?", (lo, hi))
            conn.execute(
                "UPDATE reports SET file=NULL, seq=NULL, part=NULL, u0=NULL, u1=NULL, p0=NULL,"
                " p1=NULL, f0=NULL, f1=NULL WHERE id=?",
                (rid,),
            )
            dropped = True
        if dropped:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('pending', '1')")

    def remove(self, fids: Sequence[int]) -> None:
        """Forget files: their errors and copies (reports lose their facts if primary)."""
        conn = self.conn
        lost: list[int] = []
        for chunk in _chunks(fids):
            marks = _marks(len(chunk))
            lost.extend(
                r for (r,) in conn.execute(f"SELECT id FROM reports WHERE file IN ({marks})", chunk)
            )
            conn.execute(f"DELETE FROM copies WHERE file IN ({marks})", chunk)
            conn.execute(f"DELETE FROM errors WHERE file IN ({marks})", chunk)
            conn.execute(f"DELETE FROM files WHERE id IN ({marks})", chunk)
        self.drop_facts(lost)

    def promote(self, limits: Limits) -> None:
        """Reports whose first copy went: the next copy becomes primary, or they go."""
        conn = self.conn
        flag = conn.execute("SELECT 1 FROM meta WHERE name='pending'").fetchone()
        if flag is None:
            return
        self._prepare()
        wanted: dict[int, list[tuple[int, int, int, str | None, str]]] = {}
        files: dict[int, tuple[str, str]] = {}
        for rid, key in conn.execute("SELECT id, key FROM reports WHERE file IS NULL").fetchall():
            row = conn.execute(
                "SELECT c.id, c.seq, c.part, f.id, f.key, f.display FROM copies c"
                " JOIN files f ON f.id = c.file WHERE c.report = ? ORDER BY f.key, c.seq LIMIT 1",
                (rid,),
            ).fetchone()
            if row is None:
                conn.execute("DELETE FROM reports WHERE id=?", (rid,))
                continue
            cid, seq, part, fid, fkey, display = row
            files[fid] = (key_location(fkey, self.roots), display)
            wanted.setdefault(fid, []).append((rid, cid, seq, part, key))
        unresolved = False
        for fid, entries in wanted.items():
            location, display = files[fid]
            reports, _errors = extract_batch([(location, display)], limits)[0]
            for rid, cid, seq, part, key in entries:
                if seq >= len(reports) or reports[seq][0] != key:
                    # The file changed since the scan: read it again next time.
                    conn.execute("UPDATE files SET size=-1 WHERE id=?", (fid,))
                    conn.execute("DELETE FROM meta WHERE name='scan'")
                    conn.execute("DELETE FROM folders")  # (the next refresh looks at all)
                    unresolved = True
                    continue
                conn.execute("DELETE FROM copies WHERE id=?", (cid,))
                self._set_primary(rid, fid, seq, part, reports[seq])
        if not unresolved:
            conn.execute("DELETE FROM meta WHERE name='pending'")


class _Facts:
    """Fact rows of reports about to be inserted, with their fresh ids."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.units: list[list[Any]] = []
        self.policies: list[list[Any]] = []
        self.failures: list[list[Any]] = []
        self.sigs: list[tuple[Any, ...]] = []
        self.first_unit = writer.next["units"]
        self.first_policy = writer.next["policies"]

    def add(self, rid: int, rep: ReportOut) -> tuple[int, ...]:
        """Queue one report's facts; returns its id ranges (units, policies, failures).

        The rows come from the worker complete but for the ids, set here in place.
        """
        reporter = rep[2]
        nxt = self.writer.next
        known_sigs = self.writer.sigs
        u0 = uid = nxt["units"]
        p0 = pid = nxt["policies"]
        f0 = fid = nxt["failures"]
        out = (self.units, self.policies, self.failures)
        for haystack, unit, unit_policies, unit_failures in rep[6]:
            domain = unit[3]
            sid = known_sigs.get((domain, reporter, haystack))
            if sid is None:
                sid = self.writer.sig(domain, reporter, haystack, self.sigs)
            pid, fid = place_unit(
                unit, unit_policies, unit_failures, (uid, rid, sid, pid, fid), out
            )
            uid += 1
        nxt["units"], nxt["policies"], nxt["failures"] = uid, pid, fid
        return (u0, uid - 1, p0, pid - 1, f0, fid - 1)

    def write(self) -> None:
        conn = self.writer.conn
        conn.executemany("INSERT INTO sigs(id, domain, reporter, hay) VALUES (?,?,?,?)", self.sigs)
        conn.executemany(f"INSERT INTO units VALUES ({_marks(11)})", self.units)
        conn.executemany(f"INSERT INTO policies VALUES ({_marks(12)})", self.policies)
        conn.executemany(f"INSERT INTO failures VALUES ({_marks(14)})", self.failures)
        if self.writer.bulk:
            # A cold build sums everything once at the end (_rebuild_aggregates).
            if self.units:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('stale', '1')")
        elif self.units:
            _aggregate(
                conn,
                self.first_unit,
                self.writer.next["units"] - 1,
                self.first_policy,
                self.writer.next["policies"] - 1,
                1,
            )


def _rebuild_aggregates(conn: sqlite3.Connection) -> None:
    """Sum every aggregate table again from the facts (after a cold build)."""
    if conn.execute("SELECT 1 FROM meta WHERE name='stale'").fetchone() is None:
        return
    with _transaction(conn):
        conn.execute("DELETE FROM daily_domain")
        conn.execute(
            "INSERT INTO daily_domain SELECT domain, day, sum(successful), sum(failed), count(*)"
            " FROM units GROUP BY domain, day"
        )
        conn.execute("DELETE FROM daily_reporter")
        conn.execute(
            "INSERT INTO daily_reporter SELECT reporter, day, sum(successful), sum(failed),"
            " sum(lead) FROM units GROUP BY reporter, day"
        )
        conn.execute(
            "UPDATE sigs SET units = 0, leads = 0, successful = 0, failed = 0, first = NULL,"
            " last = NULL"
        )
        conn.execute(
            "UPDATE sigs SET units = d.units, leads = d.leads, successful = d.successful,"
            " failed = d.failed, first = d.first, last = d.last"
            " FROM (SELECT sig, count(*) AS units, sum(lead) AS leads,"
            " sum(successful) AS successful, sum(failed) AS failed, min(day) AS first,"
            " max(day) AS last FROM units GROUP BY sig) AS d WHERE sigs.id = d.sig"
        )
        conn.execute("DELETE FROM policy_types")
        conn.execute(
            "INSERT INTO policy_types SELECT domain, policy_type, sum(successful), sum(failed),"
            " count(*) FROM policies GROUP BY domain, policy_type"
        )
        conn.execute("DELETE FROM type_totals")
        conn.execute(
            "INSERT INTO type_totals SELECT u.domain, j.key, sum(j.value), count(*)"
            " FROM units u, json_each(u.rtc) j WHERE u.rtc IS NOT NULL GROUP BY u.domain, j.key"
        )
        conn.execute("DELETE FROM meta WHERE name='stale'")


def _aggregate(conn: sqlite3.Connection, u0: int, u1: int, p0: int, p1: int, sign: int) -> None:
    """Add (sign 1) or take away (sign -1) units u0..u1 and policies p0..p1 from the
    aggregate tables; SQLite does the arithmetic."""
    conn.execute(
        "INSERT INTO daily_domain SELECT domain, day, ?1 * sum(successful), ?1 * sum(failed),"
        " ?1 * count(*) FROM units WHERE id BETWEEN ?2 AND ?3 GROUP BY domain, day"
        " ON CONFLICT DO UPDATE SET successful = successful + excluded.successful,"
        " failed = failed + excluded.failed, units = units + excluded.units",
        (sign, u0, u1),
    )
    conn.execute(
        "INSERT INTO daily_reporter SELECT reporter, day, ?1 * sum(successful),"
        " ?1 * sum(failed), ?1 * sum(lead) FROM units WHERE id BETWEEN ?2 AND ?3"
        " GROUP BY reporter, day"
        " ON CONFLICT DO UPDATE SET successful = successful + excluded.successful,"
        " failed = failed + excluded.failed, leads = leads + excluded.leads",
        (sign, u0, u1),
    )
    conn.execute(
        "UPDATE sigs SET units = sigs.units + d.units, leads = sigs.leads + d.leads,"
        " successful = sigs.successful + d.successful, failed = sigs.failed + d.failed,"
        " first = CASE WHEN ?1 > 0 THEN min(coalesce(sigs.first, d.first), d.first)"
        " ELSE (SELECT min(day) FROM units WHERE sig = sigs.id AND id NOT BETWEEN ?2 AND ?3)"
        " END,"
        " last = CASE WHEN ?1 > 0 THEN max(coalesce(sigs.last, d.last), d.last)"
        " ELSE (SELECT max(day) FROM units WHERE sig = sigs.id AND id NOT BETWEEN ?2 AND ?3)"
        " END"
        " FROM (SELECT sig, ?1 * count(*) AS units, ?1 * sum(lead) AS leads,"
        " ?1 * sum(successful) AS successful, ?1 * sum(failed) AS failed,"
        " min(day) AS first, max(day) AS last FROM units"
        " WHERE id BETWEEN ?2 AND ?3 GROUP BY sig) AS d WHERE sigs.id = d.sig",
        (sign, u0, u1),
    )
    if p1 >= p0:
        conn.execute(
            "INSERT INTO policy_types SELECT domain, policy_type, ?1 * sum(successful),"
            " ?1 * sum(failed), ?1 * count(*) FROM policies WHERE id BETWEEN ?2 AND ?3"
            " GROUP BY domain, policy_type"
            " ON CONFLICT DO UPDATE SET successful = successful + excluded.successful,"
            " failed = failed + excluded.failed, n = n + excluded.n",
            (sign, p0, p1),
        )
    conn.execute(
        "INSERT INTO type_totals SELECT u.domain, j.key, ?1 * sum(j.value), ?1 * count(*)"
        " FROM units u, json_each(u.rtc) j WHERE u.id BETWEEN ?2 AND ?3 AND u.rtc IS NOT NULL"
        " GROUP BY u.domain, j.key"
        " ON CONFLICT DO UPDATE SET count = count + excluded.count, n = n + excluded.n",
        (sign, u0, u1),
    )
    if sign < 0:
        conn.execute("DELETE FROM daily_domain WHERE units = 0")
        conn.execute("DELETE FROM daily_reporter WHERE leads = 0")
        conn.execute("DELETE FROM policy_types WHERE n = 0")
        conn.execute("DELETE FROM type_totals WHERE n = 0")
