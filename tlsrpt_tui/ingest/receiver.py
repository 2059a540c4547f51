"""The HTTPS receiver for ``rua=https://...`` (RFC 8460 section 5.4), on aiohttp.

A submitter POSTs one report as ``application/tlsrpt+gzip`` (the body is the gzip
file itself, not a Content-Encoding) or ``application/tlsrpt+json``. It treats a
success status as delivered and may retry on anything else, so success is answered
only once the report is fsynced on disk:

===  ==========================================================================
201  stored
200  a copy of this report is already stored (nothing written)
400  the body is not a valid report
403  the report is about a policy domain not on the allow-list (``--domain``)
404  another path than the one served (``--path``)
405  another method than POST
408  the body did not arrive within the request time limit
413  the body is larger than the limit
415  another media type, or a Content-Encoding other than identity, gzip, deflate
500  the report could not be stored (the submitter will retry)
503  too many requests at once (with Retry-After)
===  ==========================================================================

Abuse does not starve honest submitters nor exhaust memory: a body is read under the
request's deadline before anything else is held (a client trickling bytes holds only
its connection), all bodies being read share one byte budget, all decompressions at
once share another (a gzip bomb waits its turn, a small report does not wait behind
it), and only storing takes one of the ``concurrency`` write slots.

Every request is logged in one line on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from tlsrpt_tui.core.model import UNKNOWN_DOMAIN, Report, Source, normalise_domain
from tlsrpt_tui.core.reading.loader import (
    DEFAULT_LIMITS,
    GZIP_MAGIC,
    Limits,
    ReportError,
    gunzip_capped,
    load_bytes,
    sniff,
)
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.ingest.mail import now_iso
from tlsrpt_tui.ingest.report_dir import ReportStore, SaveResult

MiB = 1024 * 1024
MEDIA_TYPES = frozenset({"application/tlsrpt+gzip", "application/tlsrpt+json"})
#: Content codings accepted (gzip and deflate are decoded here, within the body limit
#: and the inflating budget: aiohttp's own decoding is off); anything else is 415.
CONTENT_CODINGS = frozenset({"", "identity", "gzip", "deflate"})

log = logging.getLogger("tlsrpt_tui.receive")


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    host: str = "127.0.0.1"
    port: int = 8460
    path: str | None = None  # serve only this path; any path when None
    domains: tuple[str, ...] = ()  # allow-list of policy domains; all when empty
    max_body_bytes: int = 4 * MiB
    concurrency: int = 16
    request_timeout: float = 30.0
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)
    ssl_context: ssl.SSLContext | None = None
    #: Bytes all bodies being read may hold at once (past it: 503).
    max_buffered_bytes: int = 64 * MiB
    #: Bytes all decompressions at once may produce (None: the decompressed limit and
    #: 8 MiB: one worst-case report at a time, with room beside it for small ones).
    max_inflating_bytes: int | None = None

    @property
    def inflating_budget(self) -> int:
        if self.max_inflating_bytes is not None:
            return self.max_inflating_bytes
        return self.limits.max_decompressed_bytes + 8 * MiB


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port). Raises ValueError."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if not rest.startswith(":"):
            raise ValueError(f"{value!r}: give [ADDRESS]:PORT")
        port = rest[1:]
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"{value!r}: give HOST:PORT ([ADDRESS]:PORT for IPv6)")
    if not host:
        raise ValueError(f"{value!r}: no host")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r}: bad port")
    return host, int(port)


def domain_allowed(domain: str, allow: tuple[str, ...]) -> bool:
    """``example.com`` allows exactly that domain; ``.example.com`` or ``*.example.com``
    allow it and every domain under it. An empty allow-list allows everything."""
    if not allow:
        return True
    if domain == UNKNOWN_DOMAIN:
        return False
    for entry in allow:
        if entry.startswith(("*.", ".")):
            parent = normalise_domain(entry.lstrip("*").lstrip("."))
            if domain == parent or domain.endswith("." + parent):
                return True
        elif domain == normalise_domain(entry):
            return True
    return False


class ByteBudget:
    """Bytes shared by concurrent requests (on one event loop): taken at once
    (:meth:`take`) or waited for (:meth:`reserve`), always given back."""

    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self.free = self.total
        self._waiters: set[asyncio.Future[None]] = set()

    def take(self, amount: int) -> bool:
        """Take ``amount`` now if it is free (no waiting)."""
        if amount > self.free:
            return False
        self.free -= amount
        return True

    def give(self, amount: int) -> None:
        self.free += amount
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    @contextlib.asynccontextmanager
    async def reserve(self, amount: int, timeout: float) -> AsyncIterator[int]:
        """Wait (at most ``timeout``) until ``amount`` (at most the whole budget) is
        free, and hold it for the block; TimeoutError when it does not come in time."""
        amount = min(max(0, amount), self.total)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while amount > self.free:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            finally:
                self._waiters.discard(waiter)
        self.free -= amount
        try:
            yield amount
        finally:
            self.give(amount)


def inflated_estimate(body: bytes, cap: int) -> int:
    """What decompressing ``body`` should produce, at most ``cap``: a gzip stream's
    ISIZE (its last four bytes, the size mod 2**32), else the body's own size. A
    stream that lies about it is stopped at the estimate (and tried again within the
    full limit): the estimate is what a request reserves of the inflating budget."""
    if body.startswith(GZIP_MAGIC) and len(body) >= 18:
        size = int(struct.unpack("<I", body[-4:])[0])
        return min(cap, max(size, len(body)))
    return min(cap, len(body))


def decode_content(body: bytes, coding: str, limit: int) -> bytes:
    """``body`` with its Content-Encoding undone, never more than ``limit`` bytes.

    Raises :class:`_Reject` (413 over the limit, 400 for a broken stream)."""
    if coding in ("", "identity"):
        return body
    too_big = _Reject(413, f"body decodes to more than the {limit:,} byte limit", close=True)
    if coding == "gzip":
        try:
            return gunzip_capped(body, limit)
        except ReportError as exc:
            if "limit" in str(exc):
                raise too_big from None
            raise _Reject(400, f"Content-Encoding gzip: {exc}", close=True) from None
    # deflate: a zlib stream (RFC 9110 section 8.4.1.2), or raw deflate as some send
    for wbits in (15, -15):
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(data) > limit:
            raise too_big
        if not inflater.eof:
            raise _Reject(400, "Content-Encoding deflate: truncated stream", close=True)
        return data
    raise _Reject(400, "Content-Encoding deflate: corrupt stream", close=True)


class _Reject(Exception):
    def __init__(self, status: int, reason: str, *, close: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.close = close


@dataclass(slots=True)
class _Exchange:
    """What one request did, for the log line."""

    size: int = 0
    organization: str = "-"
    domains: str = "-"
    note: str = ""
    buffered: int = 0  # body bytes taken from the buffer budget


def server_tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class Receiver:
    def __init__(self, store: ReportStore, config: ReceiverConfig) -> None:
        self.store = store
        self.config = config
        #: Write slots: held only while a validated report is stored.
        self._slots = asyncio.Semaphore(config.concurrency)
        self._buffered = ByteBudget(config.max_buffered_bytes)
        self._inflating = ByteBudget(config.inflating_budget)
        self._pool = ThreadPoolExecutor(
            max_workers=max(2, config.concurrency), thread_name_prefix="tlsrpt-receive"
        )

    def app(self) -> web.Application:
        # client_max_size is a second fence; bodies are read with our own limit below.
        # Content codings are decoded by _process (within the budgets), not by aiohttp.
        app = web.Application(
            client_max_size=self.config.max_body_bytes + 1,
            handler_args={"auto_decompress": False},
        )
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _app: web.Application) -> None:
        self._pool.shutdown(wait=True)

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, function, *args)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        exchange = _Exchange()
        try:
            status, text = await self._process(request, exchange)
            response = web.Response(status=status, text=text + "\n")
        except _Reject as reject:
            exchange.note = reject.reason
            response = web.Response(status=reject.status, text=reject.reason + "\n")
            if reject.status == 405:
                response.headers["Allow"] = "POST"
            if reject.status == 503:
                response.headers["Retry-After"] = "5"
            if reject.status == 415:  # (RFC 7694: the codings that are accepted)
                response.headers["Accept-Encoding"] = "identity, gzip, deflate"
            if reject.close:
                response.force_close()
        except OSError as exc:  # the disk is full, the directory went away, ...
            exchange.note = f"cannot store: {exc}"
            response = web.Response(status=500, text="cannot store the report now, retry later\n")
        except Exception as exc:  # never let one request take the server down
            exchange.note = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("internal error")
            response = web.Response(status=500, text="internal error, try again later\n")
        elapsed = (time.monotonic() - started) * 1000
        path = plain(request.path)[:200]
        note = f" {plain(exchange.note)[:300]!r}" if exchange.note else ""
        log.info(
            "%s %s %s %d %dB org=%s domains=%s %.1fms%s",
            request.remote or "-",
            request.method,
            path,
            response.status,
            exchange.size,
            exchange.organization,
            exchange.domains,
            elapsed,
            note,
        )
        return response

    async def _process(self, request: web.Request, exchange: _Exchange) -> tuple[int, str]:
        config = self.config
        if config.path is not None and request.path != config.path:
            raise _Reject(404, "not found", close=True)
        if request.method != "POST":
            raise _Reject(405, "only POST is accepted", close=True)
        media_type = request.content_type.lower()
        if media_type not in MEDIA_TYPES:
            raise _Reject(
                415,
                f"media type {media_type[:80]!r} is not application/tlsrpt+gzip "
                "or application/tlsrpt+json",
                close=True,
            )
        coding = request.headers.get("Content-Encoding", "").strip().lower()
        if coding not in CONTENT_CODINGS:
            raise _Reject(
                415,
                f"content coding {coding[:80]!r} is not supported (identity, gzip, deflate)",
                close=True,
            )
        length = request.content_length
        if length is not None and length > config.max_body_bytes:
            exchange.size = length
            raise _Reject(413, f"body over the {config.max_body_bytes:,} byte limit", close=True)
        deadline = time.monotonic() + config.request_timeout
        try:
            # The body first, under the request's deadline, holding no write slot.
            body = await self._read_body(request, exchange, deadline)
            if coding not in ("", "identity"):
                body = await self._decoded(body, coding, exchange, deadline)
            report = await self._checked(body, request.path, deadline)
            exchange.organization = repr(plain(report.organization_name)[:64])
            exchange.domains = ",".join(sorted(plain(d)[:64] for d in report.policy_domains)) or "-"
            refused = [d for d in report.policy_domains if not domain_allowed(d, config.domains)]
            if refused or (config.domains and not report.policy_domains):
                shown = ", ".join(sorted(refused)) or "no policy domain"
                raise _Reject(403, f"reports for {shown} are not accepted here")
            sidecar = {
                "via": "https",
                "received-at": now_iso(),
                "remote": request.remote,
                "forwarded-for": (request.headers.get("X-Forwarded-For") or "")[:200] or None,
                "path": request.path[:200],
                "content-type": media_type,
                "content-encoding": coding or None,
                "user-agent": (request.headers.get("User-Agent") or "")[:200] or None,
            }
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=self._left(deadline))
            except TimeoutError:
                raise _Reject(503, "too busy, try again later", close=True) from None
            try:
                saved: SaveResult = await self._run(self._save, body, report, sidecar)
            finally:
                self._slots.release()
        finally:
            self._buffered.give(exchange.buffered)
        if saved.status == "duplicate":
            exchange.note = "duplicate"
            return 200, "already stored"
        return 201, "stored"

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.0, deadline - time.monotonic())

    async def _read_body(self, request: web.Request, exchange: _Exchange, deadline: float) -> bytes:
        """The body, read before the deadline; every byte held is taken from the shared
        buffer budget (``exchange.buffered``), which the caller gives back."""
        limit = self.config.max_body_bytes
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + self._left(deadline)):
                async for chunk in request.content.iter_chunked(64 * 1024):
                    exchange.size += len(chunk)
                    if exchange.size > limit:
                        raise _Reject(413, f"body over the {limit:,} byte limit", close=True)
                    if not self._buffered.take(len(chunk)):
                        raise _Reject(503, "too busy, try again later", close=True)
                    exchange.buffered += len(chunk)
                    chunks.append(chunk)
        except TimeoutError:
            raise _Reject(408, "body not received in time", close=True) from None
        except _Reject:
            raise
        except Exception as exc:  # the client went away or sent a broken body
            raise _Reject(400, f"body could not be read: {exc}", close=True) from None
        return b"".join(chunks)

    async def _decoded(
        self, body: bytes, coding: str, exchange: _Exchange, deadline: float
    ) -> bytes:
        limit = self.config.max_body_bytes
        try:
            async with self._inflating.reserve(limit, self._left(deadline)):
                decoded: bytes = await self._run(decode_content, body, coding, limit)
        except TimeoutError:
            raise _Reject(503, "too busy, try again later", close=True) from None
        if not self._buffered.take(len(decoded)):
            raise _Reject(503, "too busy, try again later", close=True)
        exchange.buffered += len(decoded)
        return decoded

    async def _checked(self, body: bytes, path: str, deadline: float) -> Report:
        """The report in ``body``, decompressed within the shared inflating budget: a
        request reserves what its body says it inflates to (see inflated_estimate),
        and a body that inflates to more is tried once more within the full limit."""
        cap = self.config.limits.max_decompressed_bytes
        estimate = inflated_estimate(body, cap)
        for allowed in (estimate, cap) if estimate < cap else (cap,):
            try:
                async with self._inflating.reserve(allowed, self._left(deadline)):
                    report: Report | None = await self._run(self._validate, body, path, allowed)
            except TimeoutError:
                raise _Reject(503, "too busy, try again later", close=True) from None
            if report is not None:
                return report
        raise AssertionError("unreachable: the full limit gives a verdict")  # pragma: no cover

    def _validate(self, body: bytes, path: str, allowed: int) -> Report | None:
        """The one report in ``body`` (None: it inflates to more than ``allowed``, below
        the configured limit: try again with more)."""
        if not body:
            raise _Reject(400, "empty body")
        if sniff(body) not in ("gzip", "json"):
            raise _Reject(400, "body is neither gzip nor JSON")
        cap = self.config.limits.max_decompressed_bytes
        limits = replace(self.config.limits, max_decompressed_bytes=min(allowed, cap))
        result = load_bytes(body, Source(f"https POST {path[:200]}"), limits=limits)
        if (
            allowed < cap
            and not result.reports
            and any("byte limit" in e.error for e in result.errors)
        ):
            return None
        if not result.reports:
            reasons = "; ".join(e.error for e in result.errors) or "no report found"
            raise _Reject(400, f"invalid report: {reasons[:500]}")
        if len(result.reports) > 1 or result.reports[0].source.part is not None:
            raise _Reject(400, "one report per request, not a JSON array")
        return result.reports[0]

    def _save(self, body: bytes, report: Report, sidecar: dict[str, Any]) -> SaveResult:
        return self.store.save(
            body, report, submitter=report.organization_name, sidecars={"https": sidecar}
        )


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def run(
    store: ReportStore,
    config: ReceiverConfig,
    *,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM (requests in flight are finished first)."""
    receiver = Receiver(store, config)
    scheme = "https" if config.ssl_context is not None else "http"
    host = f"[{config.host}]" if ":" in config.host else config.host
    where = config.path if config.path is not None else "/ (any path)"
    message = f"listening on {scheme}://{host}:{config.port}{where}, storing into {store.root}"

    def printer(*_args: object, **_kwargs: object) -> None:
        if announce is not None:
            announce(message)

    web.run_app(
        receiver.app(),
        host=config.host,
        port=config.port,
        ssl_context=config.ssl_context,
        access_log=None,
        print=printer,
        shutdown_timeout=config.request_timeout,
        handle_signals=True,
    )
