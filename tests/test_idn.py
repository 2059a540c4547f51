"""Internationalized domains: RFC 8460 sends them as A-labels; ``bücher.example`` and
``xn--bcher-kva.example`` are one domain, keyed by the A-label in every machine output,
with the Unicode spelling beside it in the explorer."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from conftest import build_detail, build_policy, build_report

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.model import Source, normalise_domain, u_label
from tlsrpt_tui.core.reading.loader import load_bytes, load_file
from tlsrpt_tui.ingest.report_dir import ReportStore
from tlsrpt_tui.ui.app import ExplorerApp

A_LABEL = "xn--bcher-kva.example"
U_LABEL = "bücher.example"


def test_uts46_normalisation() -> None:
    spellings = ("bücher.example", "Bücher.Example.", "BÜCHER。example", "xn--BCHER-KVA.example")
    for spelling in spellings:
        assert normalise_domain(spelling) == A_LABEL, spelling
    # Non-transitional (IDNA 2008), not the standard library's IDNA 2003: ß stays ß.
    assert normalise_domain("faß.de") == "xn--fa-hia.de"
    assert normalise_domain("*.Bücher.example") == "*." + A_LABEL
    assert normalise_domain("_smtp._tls.bücher.example") == "_smtp._tls." + A_LABEL
    # Not valid IDNA: the text as given, lower-cased (a label over 63 octets).
    assert normalise_domain("Ü" * 70 + ".de") == "ü" * 70 + ".de"
    assert u_label(A_LABEL) == U_LABEL
    assert u_label("example.com") is None
    assert u_label("xn--zz.example") is None  # does not decode: shown as it is


def idn_archive(write: Any) -> Path:
    """One reporter spells the domain with U-labels, another with A-labels; the mx-host
    and receiving MX of each too."""
    write.json(
        "2024/03/01/unicode.json",
        build_report(
            organization_name="Reporter U",
            report_id="u-1",
            policies=[
                build_policy(
                    "Bücher.example", "sts", 90, 10,
                    [build_detail("validation-failure", 10,
                                  receiving_mx_hostname="mx.bücher.example")],
                    mx_host=["mx.bücher.example"],
                    policy_string=["version: STSv1", "mode: enforce", "mx: mx.bücher.example"],
                )
            ],
        ),
    )  # fmt: skip
    write.json(
        "2024/03/01/alabel.json",
        build_report(
            organization_name="Reporter A",
            report_id="a-1",
            policies=[
                build_policy(
                    A_LABEL, "sts", 50, 5,
                    [build_detail("validation-failure", 5,
                                  receiving_mx_hostname="mx.xn--bcher-kva.example")],
                    mx_host=["mx.xn--bcher-kva.example"],
                    policy_string=["version: STSv1", "mode: enforce",
                                   "mx: mx.xn--bcher-kva.example"],
                )
            ],
        ),
    )  # fmt: skip
    return write.root


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main([*args, "--jobs", "1"])
    return status, out.getvalue()


def test_one_domain_under_the_a_label_in_summary_json_and_csv(write: Any) -> None:
    root = idn_archive(write)
    for extra in (["--no-cache"], [], []):
        status, out = run("summary", str(root), "--format", "json", *extra)
        assert status == 0
        doc = json.loads(out)
        assert list(doc["domains"]) == [A_LABEL], extra
        domain = doc["domains"][A_LABEL]
        assert (domain["successful"], domain["failed"]) == (140, 15)
        assert domain["result-types"] == {"validation-failure": 15}
        assert sorted(domain["reporters"]) == ["Reporter A", "Reporter U"]
    status, out = run("summary", str(root), "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {row[next(iter(row))] for row in rows} == {A_LABEL}
    assert U_LABEL not in out


def test_check_keys_alerts_by_the_a_label_and_one_policy(write: Any) -> None:
    root = idn_archive(write)
    status, out = run("check", str(root), "--format", "json", "--now", "2024-03-02T00:00:00Z")
    assert status == 1
    alerts = json.loads(out)["alerts"]
    assert alerts and {a["policy-domain"] for a in alerts} == {A_LABEL}
    # The MX of both spellings is the one the policies name: no mx-mismatch, and the two
    # reporters agree on the policy.
    assert "mx-mismatch" not in {a["rule"] for a in alerts}, alerts
    assert U_LABEL not in out


def test_loaded_mx_hosts_are_a_labels_too(write: Any) -> None:
    root = idn_archive(write)
    report = load_file(root / "2024/03/01/unicode.json").reports[0]
    policy = report.policies[0]
    assert policy.policy_domain == A_LABEL
    assert policy.mx_host == ("mx." + A_LABEL,)
    assert policy.failure_details[0].receiving_mx_hostname == "mx." + A_LABEL


def test_ingest_file_names_use_the_a_label(tmp_path: Path) -> None:
    payload = json.dumps(build_report(policies=[build_policy(U_LABEL)])).encode()
    report = load_bytes(payload, Source("upload")).reports[0]
    saved = ReportStore(tmp_path).save(payload, report, submitter="reporter.example")
    assert saved.path.name.split("!")[1] == A_LABEL


async def test_explorer_shows_the_u_label_beside_the_a_label(write: Any) -> None:
    root = idn_archive(write)
    for cache in (False, True):
        app = ExplorerApp([root], watch=False, use_index=cache)
        async with app.run_test(size=(160, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert [r.key for r in app.nav.rows_data] == [A_LABEL]
            shown = f"{A_LABEL} ({U_LABEL})"
            assert app.nav.render_row(app.nav.rows_data[0])[0].plain == shown
            assert {app.policies.render_row(r)[0].plain for r in app.policies.rows_data} == {
                shown
            }
            failures = app.failures
            assert {failures.render_row(r)[7].plain for r in failures.rows_data} == {shown}
            # The reporter pivot shows reporters as they are.
            await pilot.press("p")
            await pilot.pause()
            assert sorted(app.nav.render_row(r)[0].plain for r in app.nav.rows_data) == [
                "Reporter A",
                "Reporter U",
            ]
