"""An SMTP STARTTLS session as a sending MTA runs it, recording every step.

The first session verifies the presented chain against the trust store (the time
check switched off, so "expired" and "not trusted" are told apart; expiry is
checked separately). If verification fails, a second session without verification
collects the certificates for the evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from dataclasses import dataclass, field

from tlsrpt_tui.probe.certs import CertInfo

#: X509_V_FLAG_NO_CHECK_TIME: verify the chain but not the validity period.
VERIFY_NO_CHECK_TIME = 0x200000
MAX_REPLY_LINES = 100
READ_LIMIT = 16 * 1024


class SmtpStepError(Exception):
    def __init__(self, step: str, message: str, *, kind: str = "protocol") -> None:
        super().__init__(message)
        self.step = step
        self.kind = kind


@dataclass(slots=True)
class SmtpSession:
    """What one connection saw. ``failed_step`` is None when TLS was established."""

    host: str
    port: int
    address: str | None = None
    banner: list[str] = field(default_factory=list)
    ehlo: list[str] = field(default_factory=list)
    starttls_offered: bool | None = None
    starttls_reply: str | None = None
    tls_version: str | None = None
    cipher: str | None = None
    chain: list[CertInfo] = field(default_factory=list)
    verified_chain: list[CertInfo] = field(default_factory=list)
    #: True: chain verified (time ignored); False: verification failed; None: not verified.
    trusted: bool | None = None
    verify_error: str | None = None
    failed_step: str | None = None
    failure: str | None = None
    #: "unreachable" (connect/timeout), "protocol", "no-starttls", "tls".
    failure_kind: str | None = None
    log: list[str] = field(default_factory=list)

    @property
    def tls_established(self) -> bool:
        return self.failed_step is None and self.tls_version is not None


def make_verify_context(ca_file: str | None) -> ssl.SSLContext:
    context = (
        ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    )
    context.check_hostname = False  # names are checked separately, against MX and policy
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags = ssl.VerifyFlags(
        (int(context.verify_flags) | VERIFY_NO_CHECK_TIME) & ~int(ssl.VERIFY_X509_STRICT)
    )
    return context


def make_collect_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _chain_from(ssl_object: ssl.SSLObject, method: str) -> list[CertInfo]:
    """The peer chain, via the private ``get_(un)verified_chain`` of CPython 3.10+."""
    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(inner, method, None)
    if getter is None:
        return []
    try:
        certs = getter() or []
        return [CertInfo.from_der(c.public_bytes(ssl._ssl.ENCODING_DER)) for c in certs]  # type: ignore[attr-defined]
    except (ValueError, ssl.SSLError, AttributeError):
        return []


async def _read_reply(
    reader: asyncio.StreamReader, step: str, timeout: float
) -> tuple[int, list[str]]:
    lines: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                raw = await reader.readline()
                if not raw:
                    raise SmtpStepError(step, f"{step}: the server closed the connection")
                line = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
                if (
                    len(line) < 3
                    or not line[:3].isdigit()
                    or (len(line) > 3 and line[3] not in " -")
                ):
                    raise SmtpStepError(step, f"{step}: malformed reply line {line!r}")
                lines.append(line)
                if len(lines) > MAX_REPLY_LINES:
                    raise SmtpStepError(step, f"{step}: reply longer than {MAX_REPLY_LINES} lines")
                if len(line) == 3 or line[3] == " ":
                    break
    except TimeoutError:
        raise SmtpStepError(
            step, f"{step}: no complete reply within {timeout:g}s", kind="unreachable"
        ) from None
    except (ValueError, asyncio.LimitOverrunError):
        raise SmtpStepError(step, f"{step}: reply line longer than {READ_LIMIT} bytes") from None
    except OSError as exc:
        raise SmtpStepError(step, f"{step}: connection error: {exc}", kind="unreachable") from None
    return int(lines[-1][:3]), lines


async def _send(writer: asyncio.StreamWriter, line: str, step: str, timeout: float) -> None:
    try:
        writer.write(line.encode("ascii") + b"\r\n")
        async with asyncio.timeout(timeout):
            await writer.drain()
    except TimeoutError:
        raise SmtpStepError(
            step, f"{step}: could not send within {timeout:g}s", kind="unreachable"
        ) from None
    except OSError as exc:
        raise SmtpStepError(step, f"{step}: connection error: {exc}", kind="unreachable") from None


async def _connect(
    host: str, addresses: list[str], port: int, timeout: float, session: SmtpSession
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    problems: list[str] = []
    for address in addresses:
        shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(address, port, limit=READ_LIMIT)
        except TimeoutError:
            problems.append(f"{shown}: connect timed out after {timeout:g}s")
            continue
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            problems.append(f"{shown}: {reason}")
            continue
        session.address = address
        session.log.extend(f"connect failed: {p}" for p in problems)
        session.log.append(f"connected to {shown}")
        return reader, writer
    session.log.extend(f"connect failed: {p}" for p in problems)
    hint = ""
    if port == 25 and problems and all("timed out" in p for p in problems):
        hint = " (outbound port 25 is often blocked on home and cloud networks)"
    raise SmtpStepError(
        "connect",
        f"cannot connect to {host} port {port}: " + "; ".join(problems or ["no addresses"]) + hint,
        kind="unreachable",
    )


async def _close(writer: asyncio.StreamWriter, timeout: float) -> None:
    with contextlib.suppress(Exception):
        writer.write(b"QUIT\r\n")
        async with asyncio.timeout(min(timeout, 1.0)):
            await writer.drain()
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(min(timeout, 1.0)):
            await writer.wait_closed()


async def smtp_session(
    host: str,
    addresses: list[str],
    port: int,
    context: ssl.SSLContext,
    *,
    timeout: float,
    ehlo_name: str,
) -> SmtpSession:
    """Connect, read the banner, EHLO, STARTTLS, handshake. Never raises for the network."""
    session = SmtpSession(host=host, port=port)
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await _connect(host, addresses, port, timeout, session)
        code, lines = await _read_reply(reader, "banner", timeout)
        session.banner = lines
        session.log.append(f"banner: {lines[0]}")
        if code != 220:
            raise SmtpStepError("banner", f"the server greets with {code}, not 220: {lines[0]}")
        await _send(writer, f"EHLO {ehlo_name}", "EHLO", timeout)
        code, lines = await _read_reply(reader, "EHLO", timeout)
        session.ehlo = lines
        if code != 250:
            raise SmtpStepError("EHLO", f"EHLO answered {code}: {lines[0]}")
        keywords = [line[4:].split(" ")[0].upper() for line in lines[1:]]
        session.log.append("EHLO keywords: " + (" ".join(keywords) or "(none)"))
        session.starttls_offered = "STARTTLS" in keywords
        if not session.starttls_offered:
            raise SmtpStepError(
                "EHLO", "STARTTLS is not offered in the EHLO reply", kind="no-starttls"
            )
        await _send(writer, "STARTTLS", "STARTTLS", timeout)
        code, lines = await _read_reply(reader, "STARTTLS", timeout)
        session.starttls_reply = lines[-1]
        session.log.append(f"STARTTLS: {lines[-1]}")
        if code != 220:
            raise SmtpStepError(
                "STARTTLS", f"STARTTLS answered {code}: {lines[-1]}", kind="no-starttls"
            )
        try:
            await writer.start_tls(context, server_hostname=host, ssl_handshake_timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            session.trusted = False
            session.verify_error = f"{exc.verify_message} (verify code {exc.verify_code})"
            raise SmtpStepError(
                "TLS handshake",
                f"certificate verification failed: {session.verify_error}",
                kind="verify",
            ) from None
        except TimeoutError:
            raise SmtpStepError(
                "TLS handshake", f"TLS handshake not done within {timeout:g}s", kind="tls"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raise SmtpStepError(
                "TLS handshake", f"TLS handshake failed: {exc}", kind="tls"
            ) from None
        ssl_object = writer.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            session.tls_version = ssl_object.version()
            cipher = ssl_object.cipher()
            session.cipher = cipher[0] if cipher else None
            session.chain = _chain_from(ssl_object, "get_unverified_chain")
            if not session.chain:
                leaf = ssl_object.getpeercert(binary_form=True)
                if leaf:
                    session.chain = [CertInfo.from_der(leaf)]
            if context.verify_mode == ssl.CERT_REQUIRED:
                session.trusted = True
                session.verified_chain = _chain_from(ssl_object, "get_verified_chain")
        else:
            session.tls_version = "unknown"
        session.log.append(f"TLS established: {session.tls_version}, {session.cipher}")
    except SmtpStepError as exc:
        session.failed_step = exc.step
        session.failure = str(exc)
        session.failure_kind = exc.kind
    finally:
        if writer is not None:
            await _close(writer, timeout)
    return session


async def probe_mx_tls(
    host: str,
    addresses: list[str],
    port: int,
    *,
    ca_file: str | None,
    timeout: float,
    ehlo_name: str,
    verify_context: ssl.SSLContext | None = None,
) -> tuple[SmtpSession, SmtpSession | None]:
    """The verifying session, and the collecting one if verification failed."""
    context = verify_context or make_verify_context(ca_file)
    first = await smtp_session(host, addresses, port, context, timeout=timeout, ehlo_name=ehlo_name)
    if first.failure_kind != "verify":
        return first, None
    second = await smtp_session(
        host, addresses, port, make_collect_context(), timeout=timeout, ehlo_name=ehlo_name
    )
    return first, second
