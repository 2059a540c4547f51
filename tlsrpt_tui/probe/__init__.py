"""Live probes that confirm TLS-RPT failures: DNS, MTA-STS, STARTTLS, certificates, DANE.

The API for the explorer and the ``probe`` command::

    result = await run_probe("example.com", ["mx2.example.com"], ProbeOptions(timeout=5))
    result = run_probe_sync("example.com")               # from a thread or a script
    cached = await ProbeCache().probe("example.com")     # cached for five minutes

No textual import here: the package runs headless.
"""

from tlsrpt_tui.probe.cache import CachedProbe, ProbeCache
from tlsrpt_tui.probe.model import CHECK_ORDER, PER_MX_CHECKS, Check, ProbeResult, Verdict
from tlsrpt_tui.probe.render import to_json, to_text
from tlsrpt_tui.probe.runner import (
    ProbeOptions,
    ProbeUsageError,
    normalise_host,
    run_probe,
    run_probe_sync,
)

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
