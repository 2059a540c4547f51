"""Live probes that confirm TLS-RPT failures: DNS, MTA-STS, STARTTLS, certificates, DANE.

The API for the explorer and the ``probe`` command::

    result = await run_probe("example.com", ["mx2.example.com"], ProbeOptions(timeout=5))
    result = run_probe_sync("example.com")               # from a thread or a script
    cached = await ProbeCache().probe("example.com")     # cached for five minutes

No textual import here: the package runs headless. The runner (and with it aiohttp
and the TLS code) is imported on first use, not with the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tlsrpt_tui.probe.cache import CachedProbe, ProbeCache
from tlsrpt_tui.probe.model import CHECK_ORDER, PER_MX_CHECKS, Check, ProbeResult, Verdict
from tlsrpt_tui.probe.options import ProbeOptions, ProbeUsageError, normalise_host
from tlsrpt_tui.probe.render import to_json, to_text

if TYPE_CHECKING:
    from tlsrpt_tui.probe.runner import run_probe, run_probe_sync


def __getattr__(name: str) -> Any:
    if name in ("run_probe", "run_probe_sync"):
        from tlsrpt_tui.probe import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CHECK_ORDER",
    "PER_MX_CHECKS",
    "CachedProbe",
    "Check",
    "ProbeCache",
    "ProbeOptions",
    "ProbeResult",
    "ProbeUsageError",
    "Verdict",
    "normalise_host",
    "run_probe",
    "run_probe_sync",
    "to_json",
    "to_text",
]
