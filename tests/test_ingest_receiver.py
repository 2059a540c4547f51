"""``tlsrpt-tui receive``: the HTTPS POST receiver (RFC 8460 section 5.4).

Request by request in-process first, then the real command in a subprocess: over
TLS, and under load with 50 concurrent clients while it is killed and restarted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from ingest_helpers import REPO, TestCA, free_port, make_report, report_bytes

from tlsrpt_tui.core.model import Source
from tlsrpt_tui.core.reading.loader import load_bytes, load_file
from tlsrpt_tui.ingest.receiver import Receiver, ReceiverConfig, domain_allowed, parse_listen
from tlsrpt_tui.ingest.report_dir import ReportStore, read_sidecars, report_key

GZIP = "application/tlsrpt+gzip"
JSON = "application/tlsrpt+json"


def stored(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json.gz") if not p.name.startswith("."))


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[Any]:
    clients: list[TestClient[Any, Any]] = []

    async def factory(**options: Any) -> tuple[TestClient[Any, Any], Receiver]:
        store = ReportStore(tmp_path / "reports")
        store.prepare()
        receiver = Receiver(store, ReceiverConfig(**options))
        client: TestClient[Any, Any] = TestClient(TestServer(receiver.app()))
        await client.start_server()
        clients.append(client)
        return client, receiver

    yield factory
    for client in clients:
        await client.close()


async def test_stores_a_gzip_report_and_answers_201_then_200(
    make_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tlsrpt_tui.receive")
    client, _ = await make_client()
    body = report_bytes(make_report(organization="Google Inc."))
    response = await client.post("/any/path/you/like", data=body, headers={"Content-Type": GZIP})
    assert response.status == 201
    (path,) = stored(tmp_path / "reports")
    assert path.read_bytes() == body
    assert path.name.startswith("Google_Inc!example.com!")
    sidecar = read_sidecars(path)["https"]
    assert sidecar["via"] == "https" and sidecar["path"] == "/any/path/you/like"
    # the same report again, also as JSON: already stored
    for data, media in (
        (body, GZIP),
        (report_bytes(make_report(organization="Google Inc."), gz=False), JSON),
    ):
        response = await client.post("/", data=data, headers={"Content-Type": media})
        assert response.status == 200
    assert stored(tmp_path / "reports") == [path]
    lines = [r.getMessage() for r in caplog.records if r.name == "tlsrpt_tui.receive"]
    assert len(lines) == 3
    assert " POST /any/path/you/like 201 " in lines[0]
    assert "org='Google Inc.' domains=example.com" in lines[0]
    assert " 200 " in lines[1] and "duplicate" in lines[1]


async def test_json_report_is_stored_gzipped(make_client: Any, tmp_path: Path) -> None:
    client, _ = await make_client()
    body = report_bytes(make_report(), gz=False)
    response = await client.post(
        "/tlsrpt", data=body, headers={"Content-Type": JSON + "; charset=utf-8"}
    )
    assert response.status == 201
    (path,) = stored(tmp_path / "reports")
    assert load_file(path).reports[0].report_id == make_report()["report-id"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
        (report_bytes(make_report())[:-20], "truncated gzip"),
        (b'{"organization-name": "x"}', "missing fields"),
        (b"{not json", "not JSON"),
        (json.dumps([make_report(), make_report(report_id="2")]).encode(), "array"),
        (b"From: a@b\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nhi", "an email"),
        (b"\xff\xfe{}", "binary"),
    ],
)
async def test_invalid_reports_get_400(
    make_client: Any, tmp_path: Path, body: bytes, why: str
) -> None:
    client, _ = await make_client()
    media = GZIP if body.startswith(b"\x1f\x8b") else JSON
    response = await client.post("/", data=body, headers={"Content-Type": media})
    assert response.status == 400, why
    assert stored(tmp_path / "reports") == []


async def test_status_codes(make_client: Any, tmp_path: Path) -> None:
    client, _ = await make_client(
        path="/tlsrpt", domains=("example.com", "*.example.net"), max_body_bytes=10_000
    )
    good = report_bytes(make_report())
    cases: list[tuple[str, str, bytes, dict[str, str], int]] = [
        ("POST", "/tlsrpt", good, {"Content-Type": GZIP}, 201),
        ("POST", "/other", good, {"Content-Type": GZIP}, 404),
        ("GET", "/tlsrpt", b"", {}, 405),
        ("PUT", "/tlsrpt", good, {"Content-Type": GZIP}, 405),
        ("POST", "/tlsrpt", good, {"Content-Type": "application/gzip"}, 415),
        ("POST", "/tlsrpt", good, {"Content-Type": "text/plain"}, 415),
        ("POST", "/tlsrpt", good, {}, 415),
        ("POST", "/tlsrpt", os.urandom(20_000), {"Content-Type": GZIP}, 413),
        (
            "POST",
            "/tlsrpt",
            report_bytes(make_report(domain="victim.org", report_id="v")),
            {"Content-Type": GZIP},
            403,
        ),
        (
            "POST",
            "/tlsrpt",
            report_bytes(make_report(domain="mx.example.net", report_id="sub")),
            {"Content-Type": GZIP},
            201,
        ),
    ]
    for method, path, body, headers, expected in cases:
        response = await client.request(method, path, data=body or None, headers=headers)
        assert response.status == expected, (method, path, headers, await response.text())
        if expected == 405:
            assert response.headers["Allow"] == "POST"
    assert len(stored(tmp_path / "reports")) == 2


async def test_chunked_body_over_the_limit_is_413(make_client: Any, tmp_path: Path) -> None:
    client, _ = await make_client(max_body_bytes=50_000)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 10_000

    response = await client.post("/", data=chunks(), headers={"Content-Type": GZIP})
    assert response.status == 413


async def test_slow_body_is_408_and_busy_server_503(make_client: Any) -> None:
    client, receiver = await make_client(request_timeout=0.3)

    async def slow() -> AsyncIterator[bytes]:
        yield b"{"
        await asyncio.sleep(1.0)
        yield b"}"

    response = await client.post("/", data=slow(), headers={"Content-Type": JSON})
    assert response.status == 408

    for _ in range(receiver.config.concurrency):
        await receiver._slots.acquire()
    response = await client.post(
        "/", data=report_bytes(make_report()), headers={"Content-Type": GZIP}
    )
    assert response.status == 503
    assert response.headers["Retry-After"]


async def test_storage_failure_is_500_so_the_submitter_retries(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, receiver = await make_client()

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(receiver.store, "save", full)
    response = await client.post(
        "/", data=report_bytes(make_report()), headers={"Content-Type": GZIP}
    )
    assert response.status == 500


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8460") == ("127.0.0.1", 8460)
    assert parse_listen("[::1]:443") == ("::1", 443)
    assert parse_listen("localhost:80") == ("localhost", 80)
    for bad in ("8460", ":8460", "[::1]", "::1:80", "host:0", "host:x", "host:70000"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_domain_allow_list() -> None:
    assert domain_allowed("anything.org", ())
    assert domain_allowed("example.com", ("example.com",))
    assert not domain_allowed("sub.example.com", ("example.com",))
    assert domain_allowed("sub.example.com", ("*.example.com",))
    assert domain_allowed("example.com", (".example.com",))
    assert not domain_allowed("badexample.com", ("*.example.com",))
    assert not domain_allowed("(unknown)", ("example.com",))


# --------------------------------------------------------------------------- subprocess


@dataclass
class ReceiverProcess:
    args: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ReceiverProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tlsrpt_tui", "receive", *self.args],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"receiver exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def processes() -> Iterator[list[ReceiverProcess]]:
    started: list[ReceiverProcess] = []
    yield started
    for process in started:
        process.kill()


async def test_https_receiver_subprocess(tmp_path: Path, processes: list[ReceiverProcess]) -> None:
    ca = TestCA(tmp_path / "tls")
    port = free_port()
    out = tmp_path / "reports"
    receiver = ReceiverProcess(
        [
            "--listen",
            f"127.0.0.1:{port}",
            "--tls-cert",
            str(ca.cert_file),
            "--tls-key",
            str(ca.key_file),
            "--dir",
            str(out),
            "--domain",
            "example.com",
        ],
        port,
        tmp_path / "receiver.log",
    )
    processes.append(receiver.start())
    body = report_bytes(make_report())
    async with aiohttp.ClientSession() as session:
        url = f"https://127.0.0.1:{port}/.well-known/tlsrpt"
        async with session.post(
            url, data=body, headers={"Content-Type": GZIP}, ssl=ca.client_context()
        ) as response:
            assert response.status == 201
        with pytest.raises(aiohttp.ClientError):
            async with session.post(
                f"http://127.0.0.1:{port}/", data=body, headers={"Content-Type": GZIP}
            ) as response:
                await response.read()
    assert receiver.stop() == 0
    (path,) = stored(out)
    assert path.read_bytes() == body
    log = receiver.log.read_text()
    assert "listening on https://127.0.0.1:" in log
    assert " POST /.well-known/tlsrpt 201 " in log


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    from tlsrpt_tui.cli import main

    out = str(tmp_path / "reports")
    assert main(["receive", "--dir", out, "--tls-cert", "x.pem"]) == 2
    assert main(["receive", "--dir", out, "--listen", "nonsense"]) == 2
    assert main(["receive", "--dir", out, "--listen", "[::1]"]) == 2
    assert main(["receive", "--dir", out, "--path", "no-slash"]) == 2
    assert main(["receive", "--dir", out, "--tls-cert", "a", "--tls-key", "b"]) == 2


@dataclass
class Job:
    method: str
    path: str
    body: bytes
    media: str | None
    expected: frozenset[int]
    key: str | None = None  # report key for valid reports


def build_jobs() -> tuple[list[Job], dict[str, bytes]]:
    rng = random.Random(8460)
    valid: dict[str, bytes] = {}
    jobs: list[Job] = []
    domains = ["example.com", "mx.example.net", "example.net"]
    for index in range(1550):
        report = make_report(
            organization=rng.choice(["Google Inc.", "Microsoft Corporation", "Mail.ru"]),
            report_id=f"load-{index}",
            domain=domains[index % 3],
            start=None,
            successful=rng.randrange(1000),
        )
        report["date-range"]["start-datetime"] = f"2024-08-{1 + index % 28:02d}T00:00:00Z"
        report["date-range"]["end-datetime"] = f"2024-08-{1 + index % 28:02d}T23:59:59Z"
        gz = index % 4 != 0
        body = report_bytes(report, gz=gz)
        parsed = load_bytes(body, Source("x")).reports[0]
        key = report_key(parsed)
        valid[key] = body
        jobs.append(Job("POST", "/tlsrpt", body, GZIP if gz else JSON, frozenset({201, 200}), key))
    keys = list(valid)
    for _ in range(250):  # re-sends of reports
        key = rng.choice(keys)
        media = GZIP if valid[key].startswith(b"\x1f\x8b") else JSON
        jobs.append(Job("POST", "/tlsrpt", valid[key], media, frozenset({200, 201}), key))
    bad_domain = report_bytes(make_report(domain="victim.org", report_id="forged"))
    good = next(iter(valid.values()))
    invalid = [
        Job("POST", "/tlsrpt", b"\x1f\x8b\x08\x00junk", GZIP, frozenset({400})),
        Job("POST", "/tlsrpt", b'{"policies": []}', JSON, frozenset({400})),
        Job("POST", "/tlsrpt", bad_domain, GZIP, frozenset({403})),
        Job("POST", "/elsewhere", good, GZIP, frozenset({404})),
        Job("GET", "/tlsrpt", b"", None, frozenset({405})),
        Job("POST", "/tlsrpt", b"\x1f\x8b" + bytes(70_000), GZIP, frozenset({413})),
        Job("POST", "/tlsrpt", good, "application/json", frozenset({415})),
    ]
    for index in range(200):
        jobs.append(invalid[index % len(invalid)])
    rng.shuffle(jobs)
    assert len(jobs) == 2000
    return jobs, valid


async def test_load_with_kill_and_restart(tmp_path: Path, processes: list[ReceiverProcess]) -> None:
    """2,000 POSTs from 50 clients, invalid ones mixed in, SIGKILL and restart midway."""
    jobs, valid = build_jobs()
    port = free_port()
    out = tmp_path / "reports"
    args = [
        "--listen",
        f"127.0.0.1:{port}",
        "--dir",
        str(out),
        "--path",
        "/tlsrpt",
        "--domain",
        "example.com",
        "--domain",
        "*.example.net",
        "--max-body-kb",
        "64",
        "--concurrency",
        "16",
    ]
    log = tmp_path / "receiver.log"
    processes.append(ReceiverProcess(args, port, log).start())
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    answers: list[tuple[Job, int]] = []
    connection_errors = 0
    killed = asyncio.Event()
    url = f"http://127.0.0.1:{port}"

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal connection_errors
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            deadline = time.monotonic() + 40
            while True:
                try:
                    headers = {"Content-Type": job.media} if job.media else {}
                    async with session.request(
                        job.method, url + job.path, data=job.body or None, headers=headers
                    ) as response:
                        await response.read()
                        status = response.status
                except (TimeoutError, aiohttp.ClientConnectionError):
                    # As a submitter does: no answer is not success, so send again.
                    connection_errors += 1
                    assert time.monotonic() < deadline, "receiver never came back"
                    await asyncio.sleep(0.05)
                    continue
                if status == 503:
                    await asyncio.sleep(0.05)
                    continue
                break
            answers.append((job, status))

    async def killer() -> None:
        while len(answers) < 800:
            await asyncio.sleep(0.005)
        processes[-1].kill()
        killed.set()
        processes.append(ReceiverProcess(args, port, log).start())

    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=20)
    connector = aiohttp.TCPConnector(limit=50)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        kill_task = asyncio.create_task(killer())
        await asyncio.gather(*(client(session) for _ in range(50)))
        await kill_task
    elapsed = time.monotonic() - started
    assert killed.is_set()
    assert len(answers) == 2000

    wrong = [
        (j.method, j.path, j.media, s, sorted(j.expected))
        for j, s in answers
        if s not in j.expected
    ]
    assert wrong == []
    created = Counter(j.key for j, s in answers if j.key and s == 201)
    assert max(created.values()) == 1  # never "stored" twice
    acknowledged = {j.key for j, s in answers if j.key and s in (200, 201)}
    assert acknowledged == set(valid)

    files = stored(out)
    by_key = Counter(p.name.rsplit("!", 1)[1].removesuffix(".json.gz") for p in files)
    assert set(by_key) == set(valid)  # every acknowledged report is on disk
    assert max(by_key.values()) == 1  # and none twice
    for path in files:
        result = load_file(path)
        assert not result.errors, (path, result.errors)
        (report,) = result.reports
        assert report_key(report) == path.name.rsplit("!", 1)[1].removesuffix(".json.gz")
        assert report.policy_domains <= {"example.com", "mx.example.net", "example.net"}
    assert processes[-1].stop() == 0
    lines = [ln for ln in log.read_text().splitlines() if " POST " in ln or " GET " in ln]
    assert len(lines) >= 2000 - 100  # one per request (those cut by the kill excepted)
    print(f"2000 requests in {elapsed:.1f}s, {connection_errors} connection errors retried")


# --------------------------------------------------------------------------- abuse


async def _trickle(host: str, port: int, *, first: bytes = b" ", length: int = 1000) -> Any:
    """A client that sends its headers and the start of a body, then stalls."""
    _, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()
        + first
    )
    await writer.drain()
    return writer


async def test_slow_clients_hold_no_write_slot(make_client: Any, tmp_path: Path) -> None:
    """Clients trickling their bodies must not make a good POST wait: before, each took
    a slot before reading and a good POST waited for the slow ones' deadline (503)."""
    client, _ = await make_client(concurrency=2, request_timeout=4.0)
    host, port = client.server.host, client.server.port
    writers = [await _trickle(host, port) for _ in range(6)]
    try:
        await asyncio.sleep(0.3)  # (the handlers are reading)
        started = time.monotonic()
        response = await client.post(
            "/", data=report_bytes(make_report()), headers={"Content-Type": GZIP}
        )
        took = time.monotonic() - started
        assert response.status == 201, await response.text()
        assert took < 2.0, took  # (before: the deadline, 4 s, then 503)
        assert len(stored(tmp_path / "reports")) == 1
    finally:
        for writer in writers:
            writer.close()


async def test_bodies_being_read_share_a_byte_budget(make_client: Any) -> None:
    client, receiver = await make_client(max_buffered_bytes=100_000, request_timeout=4.0)
    host, port = client.server.host, client.server.port
    holder = await _trickle(host, port, first=b" " * 60_000, length=200_000)
    try:
        await asyncio.sleep(0.3)
        assert receiver._buffered.free == 40_000
        response = await client.post("/", data=b" " * 60_000, headers={"Content-Type": JSON})
        assert response.status == 503
        assert response.headers["Retry-After"]
    finally:
        holder.close()
    for _ in range(50):  # the stalled body is given back once its client goes
        if receiver._buffered.free == 100_000:
            break
        await asyncio.sleep(0.1)
    assert receiver._buffered.free == 100_000


@pytest.mark.parametrize(
    ("coding", "expected"),
    [("x-rot13", 415), ("br", 415), ("gzip, gzip", 415), ("compress", 415), ("identity", 201)],
)
async def test_unsupported_content_coding_is_415(
    make_client: Any, tmp_path: Path, coding: str, expected: int
) -> None:
    client, _ = await make_client()
    response = await client.post(
        "/",
        data=report_bytes(make_report()),
        headers={"Content-Type": GZIP, "Content-Encoding": coding},
    )
    assert response.status == expected, await response.text()
    if expected == 415:
        assert response.headers["Accept-Encoding"] == "identity, gzip, deflate"
        assert stored(tmp_path / "reports") == []


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
async def test_gzip_and_deflate_content_codings_are_decoded_within_the_limit(
    make_client: Any, tmp_path: Path, coding: str
) -> None:
    import zlib

    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[coding]
    header = coding.removeprefix("raw-")

    def encode(data: bytes) -> bytes:
        squeeze = zlib.compressobj(6, zlib.DEFLATED, wbits)
        return squeeze.compress(data) + squeeze.flush()

    client, receiver = await make_client(max_body_bytes=50_000)
    body = report_bytes(make_report(), gz=False)
    response = await client.post(
        "/", data=encode(body), headers={"Content-Type": JSON, "Content-Encoding": header}
    )
    assert response.status == 201, await response.text()
    (path,) = stored(tmp_path / "reports")
    assert load_file(path).reports[0].report_id == make_report()["report-id"]
    # Decoded, the body is held to the same limit as one sent as it is.
    response = await client.post(
        "/",
        data=encode(b" " * 10_000_000),
        headers={"Content-Type": JSON, "Content-Encoding": header},
    )
    assert response.status == 413
    assert receiver._inflating.free == receiver._inflating.total
    assert receiver._buffered.free == receiver._buffered.total


async def test_multi_member_gzip_inflating_past_its_isize_is_still_accepted(
    make_client: Any, tmp_path: Path
) -> None:
    """The inflating budget reserves what the last member's ISIZE says; a stream that
    inflates to more is tried again within the full limit, not refused."""
    import gzip as gzip_module

    from tlsrpt_tui.ingest.receiver import inflated_estimate

    data = report_bytes(make_report(), gz=False) + b" " * 200_000
    body = gzip_module.compress(data[:-10]) + gzip_module.compress(data[-10:])
    assert inflated_estimate(body, 1 << 30) < 1000
    client, receiver = await make_client()
    response = await client.post("/", data=body, headers={"Content-Type": GZIP})
    assert response.status == 201, await response.text()
    assert receiver._inflating.free == receiver._inflating.total


def _peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
async def test_concurrent_gzip_bombs_stay_within_the_inflating_budget(
    tmp_path: Path, processes: list[ReceiverProcess]
) -> None:
    """Twelve bombs at once (each inflating to the 16 MiB limit) against the real
    command: before, they inflated side by side; now one at a time, small ones beside."""
    import zlib

    port = free_port()
    out = tmp_path / "reports"
    receiver = ReceiverProcess(
        ["--listen", f"127.0.0.1:{port}", "--dir", str(out), "--max-decompressed-mb", "16"],
        port,
        tmp_path / "receiver.log",
    )
    processes.append(receiver.start())
    assert receiver.process is not None
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = squeeze.compress(b"\0" * (256 * 1024 * 1024)) + squeeze.flush()
    async with aiohttp.ClientSession() as session:

        async def post(body: bytes) -> int:
            async with session.post(
                f"http://127.0.0.1:{port}/", data=body, headers={"Content-Type": GZIP}
            ) as response:
                return response.status

        await post(b"{}")  # (warm up: the first request imports what it needs)
        before = _peak_rss_mb(receiver.process.pid)
        statuses = await asyncio.wait_for(
            asyncio.gather(*(post(bomb) for _ in range(12)), post(report_bytes(make_report()))),
            timeout=60,
        )
    grew = _peak_rss_mb(receiver.process.pid) - before
    assert statuses[:12] == [400] * 12
    assert statuses[12] == 201
    # (measured here: 149 MB before, 21 MB after)
    assert grew < 70, f"peak RSS grew by {grew} MB"
    assert "decompresses to more than" in receiver.log.read_text()
