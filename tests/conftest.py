"""Shared fixtures: the real corpus, a report builder, and writers for every file form."""

from __future__ import annotations

import copy
import gzip
import json
import mailbox
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.encoders import encode_7or8bit, encode_base64, encode_quopri
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import pytest

#: ../shared beside the checkout: others' data lent to it (read-only, read in place, never
#: copied), not part of the product. TLSRPT_TEST_SHARED_DIR points elsewhere (the test
#: that a checkout without it skips, rather than fails, uses it).
SHARED_DIR = Path(
    os.environ.get("TLSRPT_TEST_SHARED_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared"
)
#: The shared corpus of real reports.
CORPUS_DIR = SHARED_DIR / "corpus" / "real"


def shared_corpus() -> Path:
    """The real-report corpus, or a skip saying why: every test that reads ../shared
    comes through here. A missing ../shared is always a skip, also when CI is set: it is
    lent to this checkout, and a fresh clone has nothing beside it (only a Debian package
    that .ci/run installs may fail a test under CI)."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"real report corpus not found at {CORPUS_DIR} (../shared is not here)")
    return CORPUS_DIR


def corpus_file(name: str) -> Path:
    """One file of the real-report corpus (a skip if the corpus or the file is missing)."""
    path = shared_corpus() / name
    if not path.is_file():
        pytest.skip(f"{name} not in the real report corpus at {CORPUS_DIR}")
    return path


def corpus_glob(pattern: str) -> list[Path]:
    """The corpus files matching ``pattern``, sorted (a skip if there are none)."""
    files = sorted(shared_corpus().glob(pattern))
    if not files:
        pytest.skip(f"no {pattern} in the real report corpus at {CORPUS_DIR}")
    return files


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real-report corpus (see :func:`shared_corpus`)."""
    return shared_corpus()


# --------------------------------------------------------------------------- reports


def build_policy(
    domain: str = "example.com",
    policy_type: str = "sts",
    successful: int = 10,
    failed: int = 0,
    failure_details: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """One ``policies[]`` entry. ``overrides`` are policy fields (``mx_host=`` -> mx-host)."""
    policy: dict[str, Any] = {"policy-type": policy_type, "policy-domain": domain}
    if policy_type == "sts":
        policy["policy-string"] = ["version: STSv1", "mode: enforce", "mx: mx.example.com"]
        policy["mx-host"] = ["mx.example.com"]
    for key, value in overrides.items():
        policy[key.replace("_", "-")] = value
    entry: dict[str, Any] = {
        "policy": policy,
        "summary": {
            "total-successful-session-count": successful,
            "total-failure-session-count": failed,
        },
    }
    if failure_details is not None:
        entry["failure-details"] = failure_details
    return entry


def build_detail(result_type: str = "validation-failure", count: int = 1, **extra: Any) -> dict:
    detail: dict[str, Any] = {"result-type": result_type, "failed-session-count": count}
    for key, value in extra.items():
        detail[key.replace("_", "-")] = value
    return detail


def build_report(**overrides: Any) -> dict[str, Any]:
    """A valid RFC 8460 report as a dict; ``organization_name=`` sets organization-name.

    ``start``/``end`` set the date-range, ``policies`` replaces the policy list; a value
    of ``...`` (Ellipsis) removes the field.
    """
    report: dict[str, Any] = {
        "organization-name": "Example Reporter",
        "date-range": {
            "start-datetime": "2024-03-01T00:00:00Z",
            "end-datetime": "2024-03-01T23:59:59Z",
        },
        "contact-info": "tlsrpt@reporter.example",
        "report-id": "2024-03-01T00:00:00Z_example.com",
        "policies": [build_policy()],
    }
    for key, value in overrides.items():
        if key in ("start", "end"):
            report["date-range"][f"{key}-datetime"] = value
            continue
        name = key.replace("_", "-")
        if value is ...:
            report.pop(name, None)
        else:
            report[name] = copy.deepcopy(value)
    return report


@pytest.fixture(scope="session")
def make_report() -> Callable[..., dict[str, Any]]:
    return build_report


def report_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode() if not isinstance(obj, bytes) else obj


# --------------------------------------------------------------------------- email


@dataclass(frozen=True)
class Attachment:
    """A MIME part: raw bytes, its media type, file name and transfer encoding."""

    data: bytes
    content_type: str = "application/tlsrpt+gzip"
    filename: str | None = "google.com!example.com!1709251200!1709337599!001.json.gz"
    encoding: str = "base64"  # base64, quoted-printable, 7bit/8bit


def build_email(
    attachments: Iterable[Attachment],
    headers: dict[str, str] | None = None,
) -> bytes:
    """An RFC 5322 ``multipart/report; report-type=tlsrpt`` message carrying attachments."""
    message = MIMEMultipart("report", report_type="tlsrpt")
    message["From"] = "noreply-smtp-tls-reporting@reporter.example"
    message["To"] = "tlsrpt@example.com"
    message["Subject"] = "Report Domain: example.com Submitter: reporter.example"
    message["Message-ID"] = "<report-1@reporter.example>"
    for key, value in (headers or {}).items():
        message[key] = value
    message.attach(MIMEText("This is an aggregate TLS report.\n"))
    encoders = {"base64": encode_base64, "quoted-printable": encode_quopri}
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        part = MIMEApplication(
            item.data, subtype, _encoder=encoders.get(item.encoding, encode_7or8bit)
        )
        if maintype != "application":
            part.replace_header("Content-Type", item.content_type)
        if item.filename is not None:
            part.add_header("Content-Disposition", "attachment", filename=item.filename)
        message.attach(part)
    return message.as_bytes()


@pytest.fixture(scope="session")
def make_email() -> Callable[..., bytes]:
    return build_email


# --------------------------------------------------------------------------- files


@dataclass
class Writer:
    """Writes reports in every form the loader reads, under ``root``."""

    root: Path

    def _path(self, name: str | bytes) -> Path:
        if isinstance(name, bytes):
            path = Path(os.fsdecode(os.path.join(os.fsencode(self.root), name)))
        else:
            path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def raw(self, name: str | bytes, data: bytes) -> Path:
        path = self._path(name)
        path.write_bytes(data)
        return path

    def json(self, name: str | bytes, obj: Any, *, bom: bool = False) -> Path:
        return self.raw(name, (b"\xef\xbb\xbf" if bom else b"") + report_bytes(obj))

    def gz(self, name: str | bytes, obj: Any) -> Path:
        return self.raw(name, gzip.compress(report_bytes(obj)))

    def eml(self, name: str, attachments: Iterable[Attachment], **headers: str) -> Path:
        named = {key.replace("_", "-"): value for key, value in headers.items()}
        return self.raw(name, build_email(attachments, named))

    def mbox(self, name: str, messages: Iterable[bytes]) -> Path:
        path = self._path(name)
        box = mailbox.mbox(path)
        try:
            for message in messages:
                box.add(message)
            box.flush()
        finally:
            box.close()
        return path

    def maildir(self, name: str, messages: Iterable[bytes], *, new: bool = True) -> Path:
        path = self._path(name)
        box = mailbox.Maildir(path, create=True)
        for message in messages:
            key = box.add(message)
            if not new:
                msg = box.get_message(key)
                msg.set_subdir("cur")
                box[key] = msg
        return path


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    return Writer(tmp_path)


def gz_report(**overrides: Any) -> bytes:
    return gzip.compress(report_bytes(build_report(**overrides)))


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests never read or write the real user's settings, data or index cache."""
    base = tmp_path_factory.mktemp("user-dirs")
    for name in ("CONFIG", "DATA", "CACHE"):
        if f"TLSRPT_TUI_{name}_DIR" not in os.environ:
            monkeypatch.setenv(f"TLSRPT_TUI_{name}_DIR", str(base / name.lower()))
