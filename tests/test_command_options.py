"""The options the commands share (commands/options.py): a time limit that is not a
positive, finite number of seconds is a usage error (exit 2), never a traceback from the
socket, nor a server that waits forever."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlsrpt_tui.cli import main

BAD_SECONDS = ["-5", "0", "nan", "inf", "-inf", "soon"]


@pytest.mark.parametrize("value", BAD_SECONDS)
@pytest.mark.parametrize(
    "command",
    [
        ["fetch", "imap", "--host", "127.0.0.1", "--port", "1", "--user", "u"],
        ["receive", "--listen", "127.0.0.1:0"],
    ],
    ids=["fetch", "receive"],
)
def test_a_bad_timeout_is_a_usage_error(
    command: list[str], value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--dir", str(tmp_path / "reports"), f"--timeout={value}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --timeout:" in err
    assert value in err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_a_bad_dns_timeout_is_a_usage_error(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mail = tmp_path / "m.eml"
    mail.write_bytes(b"Subject: hello\r\n\r\nno report here\r\n")
    status = main(
        ["import", str(mail), "--dir", str(tmp_path / "reports"), f"--dns-timeout={value}"]
    )
    assert status == 2
    assert "--dns-timeout must be a positive number of seconds" in capsys.readouterr().err


def test_a_good_timeout_is_kept_and_the_help_names_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command, default in ((["fetch", "imap"], "60"), (["receive"], "30")):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        assert f"(default {default})" in help_text
    from tlsrpt_tui.commands.options import seconds

    assert seconds("2.5") == 2.5
    assert seconds("1e-3") == 0.001
