"""Fetch report mail from an IMAP mailbox (``tlsrpt-tui fetch imap``).

Always over TLS: implicit TLS (imaps, port 993) or STARTTLS on plain IMAP (port
143); there is no clear-text mode. Messages are read with ``BODY.PEEK[]`` so that
reading alone never marks them seen. A message is flagged ``\\Seen`` (or moved) only
after every report in it has been written and fsynced; messages without a report are
left exactly as they were.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from tlsrpt_tui.core.text import plain
from tlsrpt_tui.ingest.mail import IngestOptions, IngestTotals, MessageOutcome, ingest_message
from tlsrpt_tui.ingest.store import ReportStore

IMPLICIT_TLS = "tls"
STARTTLS = "starttls"
DEFAULT_PORTS = {IMPLICIT_TLS: 993, STARTTLS: 143}


class FetchError(Exception):
    """The mailbox could not be reached, logged into or opened."""


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    user: str
    password: str
    port: int | None = None
    security: str = IMPLICIT_TLS
    folder: str = "INBOX"
    move_to: str | None = None
    ca_file: str | None = None
    timeout: float = 60.0
    all_messages: bool = False
    limit: int | None = None

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]


def encode_mailbox(name: str) -> str:
    """A mailbox name as an IMAP quoted string in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            text = base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{text}-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    text = "".join(out)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying client context: the system's CAs, or only ``ca_file`` when given."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _check(result: tuple[str, Any], what: str) -> list[Any]:
    status, data = result
    if status != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise FetchError(f"{what} failed: {detail or status}")
    return list(data) if isinstance(data, list | tuple) else [data]


def _capabilities(connection: imaplib.IMAP4) -> set[str]:
    try:
        data = _check(connection.capability(), "CAPABILITY")
    except (FetchError, imaplib.IMAP4.error):
        return {str(c).upper() for c in connection.capabilities}
    words: set[str] = set()
    for item in data:
        if isinstance(item, bytes):
            words.update(item.decode("ascii", "replace").upper().split())
    return words


def connect(config: ImapConfig) -> imaplib.IMAP4:
    """An authenticated connection (TLS verified against the system CAs or ``ca_file``)."""
    context = tls_context(config.ca_file)
    port = config.effective_port
    connection: imaplib.IMAP4
    if config.security == IMPLICIT_TLS:
        connection = imaplib.IMAP4_SSL(
            config.host, port, ssl_context=context, timeout=config.timeout
        )
    else:
        connection = imaplib.IMAP4(config.host, port, timeout=config.timeout)
        try:
            if "STARTTLS" not in connection.capabilities:
                raise FetchError("server does not offer STARTTLS")
            _check(connection.starttls(ssl_context=context), "STARTTLS")
        except BaseException:
            _close(connection)
            raise
    try:
        if "AUTH=PLAIN" in connection.capabilities:
            credentials = b"\0" + config.user.encode() + b"\0" + config.password.encode()
            _check(connection.authenticate("PLAIN", lambda _: credentials), "login")
        else:
            _check(connection.login(config.user, config.password), "login")
    except imaplib.IMAP4.error as exc:
        _close(connection)
        raise FetchError(f"login failed: {exc}") from None
    except BaseException:
        _close(connection)
        raise
    return connection


def _close(connection: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        connection.shutdown()


_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _message_sizes(connection: imaplib.IMAP4, uids: list[bytes]) -> dict[bytes, int]:
    sizes: dict[bytes, int] = {}
    for start in range(0, len(uids), 500):
        batch = b",".join(uids[start : start + 500]).decode("ascii")
        data = _check(connection.uid("FETCH", batch, "(RFC822.SIZE)"), "FETCH sizes")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _UID.search(line), _SIZE.search(line)
            if uid and size:
                sizes[uid[1]] = int(size[1])
    return sizes


def _fetch_body(connection: imaplib.IMAP4, uid: bytes) -> bytes | None:
    data = _check(connection.uid("FETCH", uid.decode("ascii"), "(BODY.PEEK[])"), "FETCH")
    for item in data:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _finish_message(
    connection: imaplib.IMAP4, uid: bytes, config: ImapConfig, capabilities: set[str]
) -> None:
    """Mark seen (and move): called only once the message's reports are on disk."""
    uid_text = uid.decode("ascii")
    _check(connection.uid("STORE", uid_text, "+FLAGS.SILENT", r"(\Seen)"), "STORE \\Seen")
    if config.move_to is None:
        return
    target = encode_mailbox(config.move_to)
    if "MOVE" in capabilities:
        _check(connection.uid("MOVE", uid_text, target), "MOVE")
        return
    _check(connection.uid("COPY", uid_text, target), "COPY")
    _check(connection.uid("STORE", uid_text, "+FLAGS.SILENT", r"(\Deleted)"), "STORE \\Deleted")
    if "UIDPLUS" in capabilities:
        _check(connection.uid("EXPUNGE", uid_text), "UID EXPUNGE")


def fetch_imap(
    config: ImapConfig,
    store: ReportStore,
    options: IngestOptions,
    *,
    verbose: TextIO | None = None,
    on_outcome: Callable[[bytes, MessageOutcome], None] | None = None,
) -> IngestTotals:
    """Fetch, store and flag report mail.

    Raises :class:`FetchError` when the server cannot be reached or logged into; any
    later problem (a folder that does not exist, a connection lost) and every
    per-message problem is counted in the totals' errors.
    """
    totals = IngestTotals()
    try:
        connection = connect(config)
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise FetchError(
            f"cannot connect to {config.host}:{config.effective_port}: {exc}"
        ) from None
    try:
        capabilities = _capabilities(connection)
        if config.move_to is not None:
            # Fails harmlessly when the folder exists already.
            connection.create(encode_mailbox(config.move_to))
        _check(connection.select(encode_mailbox(config.folder)), f"SELECT {config.folder}")
        validity = connection.response("UIDVALIDITY")[1]
        uidvalidity = (
            validity[0].decode("ascii", "replace")
            if validity and isinstance(validity[0], bytes)
            else "?"
        )
        criteria = "ALL" if config.all_messages else "UNSEEN"
        found = _check(connection.uid("SEARCH", None, criteria), "SEARCH")  # type: ignore[arg-type]
        uids = [u for item in found if isinstance(item, bytes) for u in item.split()]
        uids.sort(key=int)
        if config.limit is not None:
            uids = uids[: config.limit]
        sizes = _message_sizes(connection, uids) if uids else {}
        base = f"imap://{config.user}@{config.host}:{config.effective_port}/{config.folder}"
        for uid in uids:
            label = f"{base};UIDVALIDITY={uidvalidity}/;UID={uid.decode('ascii')}"
            size = sizes.get(uid, 0)
            if size > options.max_message_bytes:
                totals.messages += 1
                totals.error(label, f"message is {size:,} bytes, over the limit: left alone")
                continue
            raw = _fetch_body(connection, uid)
            if raw is None:
                totals.messages += 1
                totals.error(label, "server returned no message body")
                continue
            outcome = ingest_message(raw, store, options, label=label)
            if outcome.complete:
                try:
                    _finish_message(connection, uid, config, capabilities)
                except FetchError as exc:
                    outcome.errors.append(f"reports stored, but {exc}")
            totals.add(outcome)
            if on_outcome is not None:
                on_outcome(uid, outcome)
            if verbose is not None:
                verdict = outcome.verdict.verdict if outcome.verdict else "-"
                for path in outcome.saved:
                    print(f"saved {plain(str(path))} (dkim {verdict})", file=verbose)
    except (OSError, ssl.SSLError, imaplib.IMAP4.error, FetchError) as exc:
        # The mailbox went away mid-run: what was stored stays stored (and flagged).
        totals.error(f"{config.host}:{config.effective_port}", str(exc))
    finally:
        try:
            connection.logout()
        except Exception:
            _close(connection)
    return totals
