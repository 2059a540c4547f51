"""The probe from the guidance pane, against the real loopback lab of the probe tests."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_lab import Lab, fqdn

from tlsrpt_tui.probe import ProbeOptions
from tlsrpt_tui.ui.app import ExplorerApp


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("probe-ui-lab"))
    lab.start()
    yield lab
    lab.stop()


def archive_with_expired_cert(root: Path) -> Path:
    domain = fqdn("expired")
    report = {
        "organization-name": "Google Inc.",
        "date-range": {
            "start-datetime": "2026-11-27T00:00:00Z",
            "end-datetime": "2026-11-27T23:59:59Z",
        },
        "contact-info": "smtp-tls-reporting@google.com",
        "report-id": "r1",
        "policies": [
            {
                "policy": {"policy-type": "sts", "policy-domain": domain},
                "summary": {
                    "total-successful-session-count": 10,
                    "total-failure-session-count": 5,
                },
                "failure-details": [
                    {
                        "result-type": "certificate-expired",
                        "receiving-mx-hostname": f"mx.{domain}",
                        "failed-session-count": 5,
                    }
                ],
            }
        ],
    }
    root.mkdir()
    (root / "r.json.gz").write_bytes(gzip.compress(json.dumps(report).encode()))
    return root


async def test_probe_key_shows_verdicts_next_to_guidance(lab: Lab, tmp_path: Path) -> None:
    options = ProbeOptions(
        resolver=lab.auth_resolver,
        smtp_port=lab.smtp["expired"],
        https_port=lab.https["valid"],
        ca_file=str(lab.pki.ca_file),
        timeout=2.0,
    )
    app = ExplorerApp(
        [archive_with_expired_cert(tmp_path / "r")], watch=False, probe_options=options
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter", "enter")  # to the failure row
        await pilot.press("x")
        # The probe runs in a worker; the pane says so until the verdicts arrive.
        assert "running" in app.guidance.plain or "probed" in app.guidance.plain
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = app.guidance.plain
        assert "Live probe" in text and "probed" in text
        # The check that explains the selected result-type is marked and comes first.
        first_check = next(line for line in text.splitlines() if line.startswith(" ["))
        assert first_check.startswith(" [FAIL] certificate-expiry")
        assert "explains this failure" in first_check
        # The guidance itself is still there, below.
        assert "How to confirm" in text
        # Moving away and back shows the cached result with its time.
        await pilot.press("escape", "escape", "down", "up")
        await pilot.pause()
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert "Live probe" in app.guidance.plain


def refused_udp_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


async def test_probe_that_could_not_check_says_so(lab: Lab, tmp_path: Path) -> None:
    # No working resolver: nothing can be looked up. Before, the toast said
    # "8 checks failed" and the pane "the problem may have been fixed".
    options = ProbeOptions(
        resolver=f"127.0.0.1:{refused_udp_port()}",
        smtp_port=lab.smtp["expired"],
        https_port=lab.https["valid"],
        ca_file=str(lab.pki.ca_file),
        timeout=2.0,
    )
    app = ExplorerApp(
        [archive_with_expired_cert(tmp_path / "r")], watch=False, probe_options=options
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter", "enter")
        await pilot.press("x")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = app.guidance.plain
        assert "may have been fixed" not in text
        assert "Could not check what would explain certificate-expired" in text
        assert "[PASS]" not in text
        cached = app.probe_cache.get(fqdn("expired"), (f"mx.{fqdn('expired')}",), options)
        assert cached is not None
        outcome = cached.result.outcome()
        assert outcome.startswith("COULD NOT CHECK: ") and "failed" not in outcome
        assert outcome in text  # the same words as `tlsrpt-tui probe`
        messages = [n.message for n in app._notifications]
        assert messages[-1] == f"Probe of {fqdn('expired')}: {outcome}"
        assert "failed" not in messages[-1]
