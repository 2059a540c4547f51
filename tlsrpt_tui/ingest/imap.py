"""Fetch report mail from an IMAP mailbox (``tlsrpt-tui fetch imap``).

Always over TLS: implicit TLS (imaps, port 993) or STARTTLS on plain IMAP (port
143); there is no clear-text mode. Messages are read with ``BODY.PEEK[]`` so that
reading alone never marks them seen. A message is flagged ``\\Seen`` (or moved) only
after every report in it has been written and fsynced; messages without a report are
left exactly as they were.

Runs may overlap (cron, a systemd timer): one run at a time reads a given mailbox
folder (a lock in the report directory; the next waits up to ``--timeout``), and a
message another client expunged meanwhile is done, not an error. With ``--move-to`` a
stored message is flagged ``\\Seen`` and the keyword ``TlsrptStored`` before it is
moved, so a run killed in between leaves it where the next run finds and moves it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import imaplib
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tlsrpt_tui.core.text import plain
from tlsrpt_tui.ingest.mail import (
    IngestOptions,
    IngestTotals,
    MessageOutcome,
    ingest_message,
    print_outcome,
)
from tlsrpt_tui.ingest.report_dir import ReportStore, make_dirs

IMPLICIT_TLS = "tls"
STARTTLS = "starttls"
DEFAULT_PORTS = {IMPLICIT_TLS: 993, STARTTLS: 143}
#: Set with \\Seen on a stored message before it is moved (see the module docstring).
STORED_KEYWORD = "TlsrptStored"
#: How long a plain-IMAP server may take to greet before the port is probed for TLS.
GREETING_WAIT = 1.5
#: What OpenSSL says when the server's first bytes are not TLS (an IMAP greeting).
_NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)
#: First byte of a TLS record: handshake (a server that talks first) or alert.
_TLS_RECORD_TYPES = (0x15, 0x16)


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


@contextlib.contextmanager
def mailbox_lock(root: Path, config: ImapConfig, wait: float) -> Iterator[None]:
    """Hold the lock of one mailbox folder (host, port, user, folder) for a run.

    Two runs at once would read the same messages and both move them (each MOVE
    copies before it expunges). The lock file lives in the report directory and
    names the run holding it; a second run waits up to ``wait`` seconds, then gives
    up with :class:`FetchError`.
    """
    ident = "\0".join([config.host.lower(), str(config.effective_port), config.user, config.folder])
    digest = hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    path = root / f".tlsrpt-fetch-{digest}.lock"
    make_dirs(root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    raise FetchError(
                        f"another fetch of {config.folder!r} on {config.host} is still "
                        f"running ({holder or 'pid unknown'}) after {wait:g} s: nothing fetched"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # (releases the lock)


class _PlainIMAP4(imaplib.IMAP4):
    """Plain IMAP (before STARTTLS) that notices at once a port speaking TLS.

    A TLS port (993) sends nothing until the client speaks, where IMAP greets at once:
    when no greeting comes within GREETING_WAIT, a plaintext line is sent, which a TLS
    server answers with an alert (or by closing). A slow IMAP server that greets
    after all is reconnected to with the full timeout.
    """

    def _create_socket(self, timeout: float | None) -> socket.socket:
        limit = timeout if timeout is not None else 60.0
        sock = socket.create_connection((self.host, self.port), limit)
        try:
            sock.settimeout(min(limit, GREETING_WAIT))
            try:
                first = sock.recv(1, socket.MSG_PEEK)
            except TimeoutError:
                first = None
            if first is not None:
                if first and first[0] in _TLS_RECORD_TYPES:
                    raise FetchError(self._tls_message())
                sock.settimeout(timeout)
                return sock
            sock.settimeout(min(limit, GREETING_WAIT))
            sock.sendall(b"a0 CAPABILITY\r\n")
            try:
                answer = sock.recv(1)
            except TimeoutError:
                answer = None
            except ConnectionResetError:
                answer = b""
            if answer is None or not answer or answer[0] in _TLS_RECORD_TYPES:
                raise FetchError(self._tls_message())
        except BaseException:
            sock.close()
            raise
        sock.close()  # a slow IMAP server: start again, as a client that waited
        sock = socket.create_connection((self.host, self.port), limit)
        sock.settimeout(timeout)
        return sock

    def _tls_message(self) -> str:
        return (
            f"{self.host}:{self.port} sent no IMAP greeting and answers like a TLS port "
            "(implicit TLS, as on 993): leave out --starttls, or give the STARTTLS port (143)"
        )


def connect(config: ImapConfig) -> imaplib.IMAP4:
    """An authenticated connection (TLS verified against the system CAs or ``ca_file``)."""
    context = tls_context(config.ca_file)
    port = config.effective_port
    connection: imaplib.IMAP4
    if config.security == IMPLICIT_TLS:
        try:
            connection = imaplib.IMAP4_SSL(
                config.host, port, ssl_context=context, timeout=config.timeout
            )
        except ssl.SSLError as exc:
            # A plain IMAP greeting read as a TLS record (the mistake the other way round).
            if exc.reason in _NOT_TLS_REASONS:
                raise FetchError(
                    f"{config.host}:{port} does not speak TLS at once ({exc.reason}): it looks "
                    "like a plain IMAP port (as 143): give --starttls, or the implicit-TLS "
                    "port (993)"
                ) from None
            raise
    else:
        connection = _PlainIMAP4(config.host, port, timeout=config.timeout)
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


def _gone(detail: str) -> bool:
    """The server says the message was expunged meanwhile (by another client)."""
    return "EXPUNGEISSUED" in detail.upper() or "NONEXISTENT" in detail.upper()


def _exists(connection: imaplib.IMAP4, uid: bytes) -> bool:
    """Whether the message is still in the selected folder."""
    try:
        data = _check(connection.uid("SEARCH", None, f"UID {uid.decode('ascii')}"), "SEARCH")  # type: ignore[arg-type]
    except (FetchError, imaplib.IMAP4.error):
        return True  # (cannot tell: assume it is)
    return any(uid in item.split() for item in data if isinstance(item, bytes))


def _mark_stored(connection: imaplib.IMAP4, uid: bytes, config: ImapConfig, keyword: bool) -> None:
    """Flag a message whose reports are on disk: \\Seen, and the keyword that makes
    the next run move it if this one stops before it does."""
    flags = rf"(\Seen {STORED_KEYWORD})" if keyword and config.move_to else r"(\Seen)"
    _check(connection.uid("STORE", uid.decode("ascii"), "+FLAGS.SILENT", flags), "STORE \\Seen")


def _move_message(
    connection: imaplib.IMAP4, uid: bytes, config: ImapConfig, capabilities: set[str]
) -> None:
    assert config.move_to is not None
    uid_text = uid.decode("ascii")
    target = encode_mailbox(config.move_to)
    if "MOVE" in capabilities:
        _check(connection.uid("MOVE", uid_text, target), "MOVE")
        return
    _check(connection.uid("COPY", uid_text, target), "COPY")
    _check(connection.uid("STORE", uid_text, "+FLAGS.SILENT", r"(\Deleted)"), "STORE \\Deleted")
    if "UIDPLUS" in capabilities:
        _check(connection.uid("EXPUNGE", uid_text), "UID EXPUNGE")


def _finish_message(
    connection: imaplib.IMAP4,
    uid: bytes,
    config: ImapConfig,
    capabilities: set[str],
    keyword: bool = False,
) -> bool:
    """Mark seen (and move): called only once the message's reports are on disk.

    Returns False when the message was expunged meanwhile by another client (it is
    done: its reports are stored); raises FetchError for any other failure.
    """
    try:
        _mark_stored(connection, uid, config, keyword)
        if config.move_to is not None:
            _move_message(connection, uid, config, capabilities)
    except FetchError as exc:
        if _gone(str(exc)) or not _exists(connection, uid):
            return False
        raise
    return True


def _keywords_allowed(connection: imaplib.IMAP4) -> bool:
    """The selected folder keeps keywords (PERMANENTFLAGS lists ``\\*`` or ours)."""
    data = connection.response("PERMANENTFLAGS")[1]
    text = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
    return "\\*" in text or STORED_KEYWORD.lower() in text.lower()


def _note_gone(verbose: TextIO | None, label: str, when: str) -> None:
    if verbose is not None:
        print(
            f"gone: {plain(label)}: expunged by another client {when} (nothing to do)",
            file=verbose,
        )


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
    with mailbox_lock(store.root, config, wait=config.timeout):
        return _fetch_locked(config, store, options, verbose, on_outcome)


def _fetch_locked(
    config: ImapConfig,
    store: ReportStore,
    options: IngestOptions,
    verbose: TextIO | None,
    on_outcome: Callable[[bytes, MessageOutcome], None] | None,
) -> IngestTotals:
    totals = IngestTotals()
    try:
        connection = connect(config)
    except FetchError:
        raise
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
        keyword = config.move_to is not None and _keywords_allowed(connection)
        if config.all_messages:
            criteria = "ALL"
        elif keyword:  # (and those a killed run stored but did not move)
            criteria = f"OR UNSEEN KEYWORD {STORED_KEYWORD}"
        else:
            criteria = "UNSEEN"
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
            try:
                raw = _fetch_body(connection, uid)
            except FetchError as exc:
                if not (_gone(str(exc)) or not _exists(connection, uid)):
                    raise
                raw = None
            if raw is None:
                if not _exists(connection, uid):
                    _note_gone(verbose, label, "before it was read")
                    continue
                totals.messages += 1
                totals.error(label, "server returned no message body")
                continue
            outcome = ingest_message(raw, store, options, label=label)
            if outcome.complete:
                try:
                    if not _finish_message(connection, uid, config, capabilities, keyword):
                        _note_gone(verbose, label, "after its reports were stored")
                except FetchError as exc:
                    outcome.errors.append(f"reports stored, but {exc}")
            totals.add(outcome)
            if on_outcome is not None:
                on_outcome(uid, outcome)
            if verbose is not None:
                print_outcome(outcome, verbose)
    except (OSError, ssl.SSLError, imaplib.IMAP4.error, FetchError) as exc:
        # The mailbox went away mid-run: what was stored stays stored (and flagged).
        totals.error(f"{config.host}:{config.effective_port}", str(exc))
    finally:
        try:
            connection.logout()
        except Exception:
            _close(connection)
    return totals
