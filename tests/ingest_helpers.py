"""Real servers and real mail for the ingest tests.

* :func:`make_report` / :func:`build_report_mail`: TLS-RPT reports and report mail in
  the shapes real reporters send (Google-, Microsoft- and Mail.ru-like).
* :class:`DkimKey`: an RSA key made by the test, signing with dkimpy.
* :class:`DnsServer`: a small authoritative DNS server (UDP and TCP, dnspython wire
  format) on 127.0.0.1 answering the DKIM key look-ups; names can be made to
  SERVFAIL or stay silent.
* :class:`Dovecot`: Debian's dovecot as a non-daemon child process with a generated
  configuration in a temporary folder: IMAPS and IMAP+STARTTLS on 127.0.0.1, one
  user, Maildir storage, a certificate from :class:`TestCA`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.policy
import gzip
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import dkim
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import pytest
from conftest import corpus_glob
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

LOCALHOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]


def corpus_emails() -> list[Path]:
    """The real report mails of ../shared (a skip with the reason when it is absent)."""
    return corpus_glob("*.eml")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot_tree(root: Path) -> dict[str, tuple[str, int, int]]:
    """path -> (sha256, mtime_ns, mode) for every file under ``root``."""
    found: dict[str, tuple[str, int, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            info = path.stat()
            found[str(path.relative_to(root))] = (sha256_file(path), info.st_mtime_ns, info.st_mode)
    return found


# --------------------------------------------------------------------------- reports


def make_report(
    *,
    organization: str = "Example Reporter Inc.",
    report_id: str = "2024-05-01T00:00:00Z_example.com",
    domain: str = "example.com",
    start: dt.datetime | None = None,
    contact: str | None = "smtp-tls-reporting@reporter.example",
    successful: int = 10,
    failed: int = 0,
    extra_policies: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    begin = start or dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    end = begin + dt.timedelta(days=1) - dt.timedelta(seconds=1)
    policies: list[dict[str, Any]] = [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": ["version: STSv1", "mode: enforce", f"mx: mx.{domain}"],
                "policy-domain": domain,
                "mx-host": [f"mx.{domain}"],
            },
            "summary": {
                "total-successful-session-count": successful,
                "total-failure-session-count": failed,
            },
            "failure-details": (
                [
                    {
                        "result-type": "certificate-expired",
                        "sending-mta-ip": "192.0.2.1",
                        "receiving-mx-hostname": f"mx.{domain}",
                        "failed-session-count": failed,
                    }
                ]
                if failed
                else []
            ),
        },
        *extra_policies,
    ]
    report: dict[str, Any] = {
        "organization-name": organization,
        "date-range": {
            "start-datetime": begin.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end-datetime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "report-id": report_id,
        "policies": policies,
    }
    if contact is not None:
        report["contact-info"] = contact
    return report


def report_bytes(report: dict[str, Any], *, gz: bool = True) -> bytes:
    data = json.dumps(report, indent=1).encode("utf-8")
    return gzip.compress(data, mtime=0) if gz else data


def report_filename(report: dict[str, Any], submitter: str, *, gz: bool = True) -> str:
    begin = dt.datetime.fromisoformat(report["date-range"]["start-datetime"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(report["date-range"]["end-datetime"].replace("Z", "+00:00"))
    domain = report["policies"][0]["policy"]["policy-domain"]
    return (
        f"{submitter}!{domain}!{int(begin.timestamp())}!{int(end.timestamp())}!001"
        f"{'.json.gz' if gz else '.json'}"
    )


def build_report_mail(
    reports: list[dict[str, Any]] | dict[str, Any],
    *,
    submitter: str = "reporter.example",
    sender: str | None = None,
    style: str = "google",
    gz: bool = True,
    media_type: str | None = None,
) -> bytes:
    """A report mail with CRLF line ends, as reporters send it.

    ``style``: ``google`` (text/plain + application/tlsrpt+gzip with name=),
    ``microsoft`` (text/html, the report part named only in Content-Disposition) or
    ``mailru`` (``report-type="tlsrpt"`` quoted, folded Subject).
    """
    items = reports if isinstance(reports, list) else [reports]
    domain = items[0]["policies"][0]["policy"]["policy-domain"]
    outer = MIMEMultipart("report", report_type="tlsrpt")
    outer["From"] = sender or f"noreply-smtp-tls-reporting@{submitter}"
    outer["To"] = f"tls-reports@{domain}"
    subject = f"Report Domain: {domain} Submitter: {submitter} Report-ID: <{items[0]['report-id']}>"
    outer["Subject"] = subject
    outer["Date"] = format_datetime(dt.datetime(2024, 5, 2, 3, 4, 5, tzinfo=dt.UTC))
    outer["Message-ID"] = make_msgid(domain=submitter)
    outer["TLS-Report-Domain"] = domain
    outer["TLS-Report-Submitter"] = submitter
    if style == "microsoft":
        outer.attach(MIMEText("<div>This is an aggregate TLS report.</div>", "html"))
    else:
        outer.attach(MIMEText(f"This is an aggregate TLS report from {submitter}\n", "plain"))
    for report in items:
        payload = report_bytes(report, gz=gz)
        name = report_filename(report, submitter, gz=gz)
        full = media_type or ("application/tlsrpt+gzip" if gz else "application/tlsrpt+json")
        part = MIMEApplication(payload, full.partition("/")[2])
        if style == "google":
            part.set_param("name", name)
        part.add_header("Content-Disposition", "attachment", filename=name)
        outer.attach(part)
    raw = outer.as_bytes(policy=email.policy.SMTP)
    if style == "mailru":
        raw = raw.replace(b'report-type="tlsrpt"', b'report-type="tlsrpt"').replace(
            b"report-type=tlsrpt", b'report-type="tlsrpt"'
        )
    return raw


def unrelated_mail(subject: str = "Lunch?") -> bytes:
    message = MIMEText("Shall we meet at noon?\n", "plain")
    message["From"] = "alice@example.org"
    message["To"] = "postmaster@example.com"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    return message.as_bytes(policy=email.policy.SMTP)


def to_crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# --------------------------------------------------------------------------- DKIM


SIGNED_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"tls-report-domain",
    b"tls-report-submitter",
]


@dataclass
class DkimKey:
    domain: str
    selector: str
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def private_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def txt(self, service: str | None = None) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        extra = f"s={service}; " if service else ""
        return f"v=DKIM1; k=rsa; {extra}p={base64.b64encode(der).decode('ascii')}"

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def sign(
        self,
        raw: bytes,
        *,
        length: bool = False,
        domain: str | None = None,
        signed_at: int | None = None,
        expires: int | None = None,
    ) -> bytes:
        """``raw`` with a DKIM-Signature of this key on top; ``signed_at`` and
        ``expires`` (Unix times) set its ``t=`` and add an ``x=``, as Google does."""
        raw = to_crlf(raw)
        signer = _TimedSigner(raw, signed_at, expires)
        signature = signer.sign(
            self.selector.encode(),
            (domain or self.domain).encode(),
            self.private_pem,
            include_headers=[h for h in SIGNED_HEADERS if _has_header(raw, h)],
            length=length,
        )
        return bytes(signature) + raw


class _TimedSigner(dkim.DKIM):  # type: ignore[misc]
    """dkimpy's signer with a chosen ``t=`` and an ``x=`` (dkimpy signs with the clock
    and no expiry)."""

    def __init__(self, raw: bytes, signed_at: int | None, expires: int | None) -> None:
        super().__init__(raw)
        self.signed_at = signed_at
        self.expires = expires

    def gen_header(self, fields: list[tuple[bytes, bytes]], *args: Any, **kwargs: Any) -> Any:
        if self.signed_at is not None:
            fields = [(k, str(self.signed_at).encode() if k == b"t" else v) for k, v in fields]
        if self.expires is not None:
            fields.insert(len(fields) - 1, (b"x", str(self.expires).encode()))
        return super().gen_header(fields, *args, **kwargs)


def with_received(raw: bytes, when: dt.datetime) -> bytes:
    """``raw`` with the Received header a receiving server puts on top, dated ``when``."""
    stamp = format_datetime(when)
    return (
        b"Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])\r\n"
        b"\tby mx.example.com (Postfix) with ESMTPS id 4Tq1x2;\r\n"
        b"\t" + stamp.encode() + b"\r\n" + to_crlf(raw)
    )


def _has_header(raw: bytes, name: bytes) -> bool:
    head = raw.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name + b":") or (b"\r\n" + name + b":") in head


# --------------------------------------------------------------------------- DNS


@contextlib.contextmanager
def serving_keys(keys: Iterable[DkimKey]) -> Iterator[DnsServer]:
    """A loopback DNS server answering the DKIM key look-ups of ``keys``."""
    server = DnsServer().start()
    for key in keys:
        server.add_key(key)
    try:
        yield server
    finally:
        server.stop()


class DnsServer:
    """Authoritative answers for TXT records on 127.0.0.1 (UDP and TCP, one port).

    ``records[name]`` is the TXT text; names in ``servfail`` answer SERVFAIL and
    names in ``silent`` get no answer at all (the client times out); every other
    name is NXDOMAIN.
    """

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.servfail: set[str] = set()
        self.silent: set[str] = set()
        self.queries: list[str] = []
        self._udp: socketserver.ThreadingUDPServer | None = None
        self._tcp: socketserver.ThreadingTCPServer | None = None
        self.port = 0

    @staticmethod
    def _key(name: str) -> str:
        return name.lower().rstrip(".") + "."

    def add_txt(self, name: str, text: str) -> None:
        self.records[self._key(name)] = text

    def add_key(self, key: DkimKey, service: str | None = None) -> None:
        self.add_txt(key.record_name, key.txt(service))

    @property
    def address(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    def answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        self.queries.append(name)
        if name in self.silent:
            return None
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name in self.records and question.rdtype == dns.rdatatype.TXT:
            text = self.records[name].encode("ascii")
            chunks = [text[i : i + 255] for i in range(0, len(text), 255)]
            rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
            response.answer.append(dns.rrset.from_rdata(question.name, 60, rdata))
        elif name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def start(self) -> DnsServer:
        server = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                with contextlib.suppress(Exception):
                    reply = server.answer(data)
                    if reply is not None:
                        sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with contextlib.suppress(Exception):
                    head = self.request.recv(2)
                    (size,) = struct.unpack("!H", head)
                    data = b""
                    while len(data) < size:
                        chunk = self.request.recv(size - len(data))
                        if not chunk:
                            return
                        data += chunk
                    reply = server.answer(data)
                    if reply is not None:
                        self.request.sendall(struct.pack("!H", len(reply)) + reply)

        for _attempt in range(20):
            port = free_port()
            try:
                udp = socketserver.ThreadingUDPServer((LOCALHOST, port), Udp)
            except OSError:
                continue
            try:
                tcp = socketserver.ThreadingTCPServer((LOCALHOST, port), Tcp)
            except OSError:
                udp.server_close()
                continue
            self._udp, self._tcp, self.port = udp, tcp, port
            break
        else:  # pragma: no cover
            raise RuntimeError("no free port for the DNS server")
        for srv in (self._udp, self._tcp):
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for srv in (self._udp, self._tcp):
            if srv is not None:
                srv.shutdown()
                srv.server_close()


# --------------------------------------------------------------------------- TLS


@dataclass
class TestCA:
    folder: Path
    ca_file: Path = field(init=False)
    cert_file: Path = field(init=False)
    key_file: Path = field(init=False)

    __test__ = False  # not a pytest test class

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsrpt-tui test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOCALHOST))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.folder / "ca.pem"
        self.cert_file = self.folder / "cert.pem"
        self.key_file = self.folder / "key.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        for path in (self.ca_file, self.cert_file, self.key_file):
            path.chmod(0o644)

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


# --------------------------------------------------------------------------- dovecot


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )


def require_dovecot() -> str:
    binary = dovecot_binary()
    if binary is None:
        message = "dovecot is not installed (apt-get install dovecot-imapd dovecot-core)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


class Dovecot:
    """dovecot -F with its own configuration, state and mail in a temporary folder."""

    user = "reports"
    password = "s3cret-pass\u00e9"

    def __init__(self) -> None:
        self.binary = require_dovecot()
        # Login processes run as an unprivileged user and must reach base_dir, so the
        # folder must not sit under pytest's 0700 tmp folders.
        self.folder = Path(tempfile.mkdtemp(prefix="tlsrpt-dovecot-"))
        self.folder.chmod(0o755)
        self.ca = TestCA(self.folder / "tls")
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.folder / "dovecot.log"

    def _config(self) -> str:
        folder = self.folder
        mail = folder / "mail"
        home = folder / "home"
        mail.mkdir()
        home.mkdir()
        if os.geteuid() == 0:
            uid = gid = 65534  # nobody: dovecot refuses mail access as root
            os.chown(mail, uid, gid)
            os.chown(home, uid, gid)
            users = (
                "default_internal_user = dovecot\n"
                "default_internal_group = dovecot\n"
                "default_login_user = dovenull\n"
                "first_valid_uid = 100\n"
            )
        else:
            import getpass

            uid, gid = os.getuid(), os.getgid()
            me = getpass.getuser()
            users = (
                f"default_internal_user = {me}\n"
                f"default_login_user = {me}\n"
                f"first_valid_uid = {uid}\n"
            )
        return f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {self.log}
info_log_path = {self.log}
instance_name = tlsrpt-test-{self.imaps_port}
protocols = imap
listen = {LOCALHOST}
{users}
ssl = yes
ssl_cert = <{self.ca.cert_file}
ssl_key = <{self.ca.key_file}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
auth_failure_delay = 0
mail_location = maildir:{mail}/%u
passdb {{
  driver = static
  args = user={self.user} password={self.password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {LOCALHOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {LOCALHOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""

    def start(self) -> Dovecot:
        config = self.folder / "dovecot.conf"
        config.write_text(self._config(), "utf-8")
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.read_log()}")
            try:
                with self.connect():
                    return self
            except (OSError, Exception):
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {self.read_log()}")

    def read_log(self) -> str:
        try:
            return self.log.read_text("utf-8", "replace")[-4000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    @contextlib.contextmanager
    def connect(self) -> Any:
        import imaplib

        connection = imaplib.IMAP4_SSL(
            LOCALHOST, self.imaps_port, ssl_context=self.ca.client_context(), timeout=10
        )
        try:
            credentials = b"\0" + self.user.encode() + b"\0" + self.password.encode()
            connection.authenticate("PLAIN", lambda _: credentials)
            yield connection
        finally:
            with contextlib.suppress(Exception):
                connection.logout()

    def append(self, folder: str, raw: bytes, flags: str = "") -> None:
        with self.connect() as connection:
            connection.create(folder)
            status, data = connection.append(folder, flags or None, None, to_crlf(raw))
            assert status == "OK", data

    def flags(self, folder: str) -> dict[str, set[str]]:
        """Message-ID -> flags of every message in ``folder``."""
        result: dict[str, set[str]] = {}
        with self.connect() as connection:
            status, _ = connection.select(folder, readonly=True)
            if status != "OK":
                return result
            status, data = connection.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            if status != "OK":
                return result
            for item in data:
                if not isinstance(item, tuple):
                    continue
                meta, header = item
                flags_part = meta.decode().split("FLAGS (", 1)[1].split(")", 1)[0]
                message_id = header.decode().partition(":")[2].strip()
                result[message_id] = set(flags_part.split())
        return result

    def count(self, folder: str) -> int:
        with self.connect() as connection:
            status, data = connection.select(folder, readonly=True)
            return int(data[0]) if status == "OK" else -1
