"""The benchmark world: as many reporters and policy domains as asked, their incidents,
and :func:`generate_archive`, which writes an archive of a given size over worker
processes (the benchmarks and the index tests use it; the shipped demo does not).

Deterministic like the rest of :mod:`tlsrpt_tui.demo`: the same arguments give
byte-identical files.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from tlsrpt_tui.demo.parts import (
    DANE_TYPES,
    GOOGLE,
    KESTREL,
    MAILRU,
    MICROSOFT,
    NORDWIND,
    STS_TYPES,
    YAHOO,
    MxHost,
    PolicyDomain,
    Reporter,
    Traffic,
    build_report,
    effective_policies,
    encode_report,
    failure_reason,
    hash_int,
    spread_failures,
)

#: Fictional small reporters for the benchmark pool: (organization-name, submitter, style).
_SMALL_REPORTERS: tuple[tuple[str, str, str], ...] = (
    ("Bluefjord Hosting", "bluefjord.example", "isp"),
    ("mx.lindenhof-praxis.example", "mx.lindenhof-praxis.example", "sys4"),
    ("Aurora Mailservices", "aurora-mail.example", "isp"),
    ("smtp.tannery-lane.example", "smtp.tannery-lane.example", "sys4"),
    ("Kupferberg Stadtwerke", "kupferberg-stadtwerke.example", "isp"),
    ("mail.quillon-labs.example", "mail.quillon-labs.example", "sys4"),
    ("Seabright Networks", "seabright.example", "isp"),
    ("mx01.hollowpine.example", "mx01.hollowpine.example", "sys4"),
    ("Veldhuis Internet", "veldhuis-internet.example", "isp"),
    ("mail.orchard-school.example", "mail.orchard-school.example", "sys4"),
    ("Cinder Cloud Mail", "cindercloud.example", "isp"),
    ("relay.marlow-legal.example", "relay.marlow-legal.example", "sys4"),
    ("Polaris ISP", "polaris-isp.example", "isp"),
    ("mx.fernbrook.example", "mx.fernbrook.example", "sys4"),
)

_GZIP_BY_STYLE = {"isp": (9, 2, 3), "sys4": (9, 2, 255)}


def benchmark_reporters(count: int) -> list[Reporter]:
    """``count`` reporters: Google, Microsoft, Yahoo, Mail.ru, then small ones."""
    pool = [GOOGLE, MICROSOFT, YAHOO, MAILRU, NORDWIND, KESTREL]
    i = 0
    while len(pool) < count:
        n = len(pool)
        if i < len(_SMALL_REPORTERS):
            org, submitter, style = _SMALL_REPORTERS[i]
        else:
            org = submitter = f"mx.reporter{i}.example"
            style = "sys4"
        level, xfl, os_byte = _GZIP_BY_STYLE[style]
        contact = (
            f"smtp-tls-reporting@{submitter}" if style == "sys4" else f"postmaster@{submitter}"
        )
        pool.append(
            Reporter(
                key=f"small{i}",
                organization_name=org,
                submitter=submitter,
                contact_info=contact,
                style=style,
                ipv4=(f"198.51.100.{(n * 3) % 150 + 30}",),
                ipv6=(f"2001:db8:f00:{n:x}::25",) if n % 2 else (),
                share=0.02 / (1 + i % 7),
                gzip_level=level,
                gzip_xfl=xfl,
                gzip_os=os_byte,
            )
        )
        i += 1
    return pool[:count]


# --------------------------------------------------------------------------- benchmark archive

_WORDS = (
    "acme", "globex", "initech", "umbrella", "stark", "wayne", "tyrell", "cyberdyne",
    "aperture", "oscorp", "wonka", "hooli", "pied-piper", "vandelay", "dunder", "bluth",
    "soylent", "gringotts", "monarch", "nakatomi", "massive", "vehement", "sirius",
    "wernham", "prestige", "krusty", "sterling", "gekko", "duff", "oceanic", "ollivander",
    "zorg", "virtucon", "genco", "tessier", "weyland", "yoyodyne", "spacely", "cogswell",
    "buynlarge", "rekall", "ingen", "omni", "delos", "abstergo", "lacuna", "rossum",
    "momcorp", "planex", "wolfram",
)  # fmt: skip
_SUFFIXES = (".example", ".example.net", ".example.org", ".example.com")
_MAX_AGES = (86400, 604800, 1209600, 2592000, 10368000, 31557600)


def benchmark_domains(count: int, seed: int) -> list[PolicyDomain]:
    """``count`` policy domains with a realistic mix of MTA-STS, DANE and neither."""
    rng = random.Random(f"{seed}/domains")
    names = ["example.com", "example.net", "example.org", "shop.example"]
    i = 0
    while len(names) < count:
        word = _WORDS[i % len(_WORDS)]
        suffix = _SUFFIXES[(i // len(_WORDS)) % len(_SUFFIXES)]
        rounds = i // (len(_WORDS) * len(_SUFFIXES))
        names.append(f"{word}{rounds if rounds else ''}{suffix}")
        i += 1
    domains: list[PolicyDomain] = []
    for index, name in enumerate(names[:count]):
        roll = rng.random()
        mode = "enforce" if roll < 0.45 else "testing" if roll < 0.65 else None
        dane = rng.random() < (0.3 if mode else 0.25)
        n_mx = rng.choices((1, 2, 3), (0.3, 0.55, 0.15))[0]
        hosts: list[MxHost] = []
        for j in range(n_mx):
            backup = n_mx == 3 and j == 2
            serial = index * 3 + j
            hosts.append(
                MxHost(
                    hostname=f"backup-mx.{name}" if backup else f"mx{j + 1}.{name}",
                    ipv4=f"192.0.2.{serial % 253 + 1}",
                    ipv6=f"2001:db8:{index:x}::{j + 1:x}" if rng.random() < 0.6 else None,
                    weight=0.03 if backup else (0.97 if n_mx == 3 else 1.0) / min(n_mx, 2),
                )
            )
        wildcard = rng.random() < 0.4
        sts_mx = (f"*.{name}",) if wildcard else tuple(h.hostname for h in hosts)
        tlsa = tuple(
            f"{rng.choice((2, 3))} 1 1 {hash_int(seed, name, k, bits=256):064X}"
            for k in range(rng.randint(1, 3) if dane else 0)
        )
        domains.append(
            PolicyDomain(
                name=name,
                mx=tuple(hosts),
                sts_mode=mode,
                sts_mx=sts_mx if mode else (),
                sts_max_age=rng.choice(_MAX_AGES),
                tlsa=tlsa,
                daily_sessions=int(40000 / (index + 1) ** 1.1) + rng.randint(5, 60),
            )
        )
    return domains


@dataclass(frozen=True, slots=True)
class _Incident:
    first: int  # day index
    last: int
    result_type: str
    mx_index: int | None
    rate: float  # fraction of the affected sessions that fail


_NEGOTIATION_MIX = (
    ("certificate-expired", 5.0, (1, 3), 1.0),
    ("certificate-host-mismatch", 2.0, (1, 6), 1.0),
    ("certificate-not-trusted", 1.0, (1, 3), 1.0),
    ("validation-failure", 2.0, (1, 2), 0.3),
    ("starttls-not-supported", 1.0, (1, 4), 1.0),
)
_STS_MIX = (
    ("sts-policy-fetch-error", 4.0, (1, 4), 0.8),
    ("sts-policy-invalid", 0.7, (1, 3), 1.0),
    ("sts-webpki-invalid", 0.7, (1, 3), 1.0),
)
_DANE_MIX = (
    ("tlsa-invalid", 3.0, (1, 3), 1.0),
    ("dnssec-invalid", 0.7, (1, 2), 1.0),
    ("dane-required", 0.3, (1, 2), 1.0),
)


def _domain_incidents(seed: int, domain: PolicyDomain, horizon: int) -> list[_Incident]:
    """Incidents of ``domain`` up to day ``horizon`` (prefix-stable in ``horizon``)."""
    if domain.sts_mode is None and not domain.tlsa:
        return []
    rng = random.Random(f"{seed}/incidents/{domain.name}")
    incidents: list[_Incident] = []
    backups = [i for i, mx in enumerate(domain.mx) if mx.hostname.startswith("backup-mx.")]
    if backups and rng.random() < 0.5:  # a forgotten backup MX, for good
        incidents.append(_Incident(0, 1 << 30, "starttls-not-supported", backups[0], 1.0))
    mix = list(_NEGOTIATION_MIX)
    if domain.sts_mode:
        mix += _STS_MIX
    if domain.tlsa:
        mix += _DANE_MIX
    weights = [m[1] for m in mix]
    day = int(rng.expovariate(1 / 30))
    while day < horizon:
        result_type, _w, (lo, hi), rate = rng.choices(mix, weights)[0]
        length = rng.randint(lo, hi)
        mx_index = None if result_type in STS_TYPES else rng.randrange(len(domain.mx))
        incidents.append(_Incident(day, day + length - 1, result_type, mx_index, rate))
        day += length + int(rng.expovariate(1 / 50)) + 1
    return incidents


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    files: int
    bytes: int
    days: int  # days the written reports span


@dataclass(frozen=True, slots=True)
class _Params:
    domains: int
    reporters: int
    days: int
    start: date
    seed: int


class _World:
    """Reporters, domains and who reports what, derived from the parameters only."""

    def __init__(self, params: _Params) -> None:
        self.params = params
        self.reporters = benchmark_reporters(params.reporters)
        self.domains = benchmark_domains(params.domains, params.seed)
        rng = random.Random(f"{params.seed}/coverage")
        #: per reporter: [(domain index, weekday mean sessions, daily probability of a report)]
        self.pairs: list[tuple[int, int, float, float]] = []
        for r, reporter in enumerate(self.reporters):
            big = reporter.style in ("google", "microsoft", "yahoo")
            for d, domain in enumerate(self.domains):
                if not big and rng.random() > (0.85 if d < 5 else 0.25):
                    continue
                mean = domain.daily_sessions * reporter.share * rng.uniform(0.5, 1.5)
                p_send = 0.995 if big else min(0.98, 1.0 - math.exp(-mean))
                if p_send < 0.02:
                    continue
                self.pairs.append((r, d, max(mean, 1.0), p_send))
        self._incidents: dict[int, list[list[_Incident]]] = {}

    def plan(self, day_index: int) -> list[tuple[int, int, float]]:
        """The (reporter, domain, mean sessions) reports sent about day ``day_index``."""
        rng = random.Random(f"{self.params.seed}/plan/{day_index}")
        return [(r, d, mean) for r, d, mean, p in self.pairs if rng.random() < p]

    def incidents(self, day_index: int) -> list[list[_Incident]]:
        """Active incidents per domain on ``day_index``."""
        block = day_index // 256
        table = self._incidents.get(block)
        if table is None:
            horizon = (block + 1) * 256
            table = [_domain_incidents(self.params.seed, dom, horizon) for dom in self.domains]
            self._incidents = {block: table}
        return [[i for i in incs if i.first <= day_index <= i.last] for incs in table]


def _bench_traffic(
    rng: random.Random,
    reporter: Reporter,
    domain: PolicyDomain,
    mean: float,
    incidents: list[_Incident],
) -> Traffic:
    n = max(1, round(mean * rng.uniform(0.7, 1.3)))
    kinds = effective_policies(reporter, domain)
    traffic = Traffic(successes=n)
    if not kinds:
        return traffic
    for inc in incidents:
        rt = inc.result_type
        if (rt in DANE_TYPES and "tlsa" not in kinds) or (rt in STS_TYPES and "sts" not in kinds):
            continue
        if inc.mx_index is None:
            count = min(traffic.successes, max(1, round(n * inc.rate * rng.uniform(0.8, 1.0))))
            traffic.successes -= count
            if rt == "sts-policy-fetch-error":
                traffic.policy_fetched = False
            mx = None
        else:
            mx = domain.mx[inc.mx_index]
            count = round(n * mx.weight * inc.rate * rng.uniform(0.7, 1.1))
            if len(domain.mx) == 1:  # nowhere to fail over to
                count = min(count, traffic.successes)
                traffic.successes -= count
        reason = failure_reason(reporter, rt, domain.name, mx)
        traffic.failures += spread_failures(rng, reporter, rt, count, mx, reason)
    if rng.random() < 0.02:  # background noise: one odd sender path
        rt = rng.choice(("validation-failure", "certificate-not-trusted"))
        mx = rng.choice(domain.mx)
        reason = failure_reason(reporter, rt, domain.name, mx)
        traffic.failures += spread_failures(
            rng, reporter, rt, rng.randint(1, 3), mx, reason, max_rows=1
        )
    return traffic


#: The report shapes of a ``mixed`` archive, in turn (see :func:`_shaped`).
MIXED_SHAPES = ("compact", "postfix", "indented", "microsoft")
SHAPES = ("compact", "mixed")


def _shaped(reporter: Reporter, shape: str) -> tuple[Reporter, str]:
    """The reporter who writes a report of ``shape`` in place of ``reporter``, and the
    JSON layout it writes it in.

    * ``compact``: ``reporter`` itself, compact JSON (the benchmark's usual shape);
    * ``postfix``: as Postfix sites running sys4 tlsrpt-reporter write reports: a space
      after every separator, ``summary`` before ``policy``, ``failure-details: []``,
      ``report-id`` last, and a ``tlsa`` and an ``sts`` block for a domain with both;
    * ``indented``: ``reporter``'s report pretty-printed;
    * ``microsoft``: Microsoft's: the same sessions under ``sts`` and ``tlsa``, the TLSA
      ``policy-string`` one string holding a JSON array, a FILETIME unique-id.
    """
    if shape == "postfix":
        return replace(reporter, style="sys4", both_policies=True), "spaced"
    if shape == "indented":
        return reporter, "indented"
    if shape == "microsoft":
        return replace(reporter, style="microsoft"), "compact"
    return reporter, "compact"


def _write_days(
    dest: str,
    params: _Params,
    first_day: int,
    last_day: int,
    last_limit: int | None,
    shape: str = "compact",
) -> tuple[int, int]:
    """Write days ``first_day..last_day``; only ``last_limit`` reports of the last day.

    With ``shape="mixed"`` the reports take the shapes of :data:`MIXED_SHAPES` in turn
    (by their place in the day's plan), over the same plan and traffic."""
    world = _WORLD_CACHE.get(params)
    if world is None:
        world = _World(params)
        _WORLD_CACHE.clear()
        _WORLD_CACHE[params] = world
    files = total = 0
    reporters, domains, seed = world.reporters, world.domains, params.seed
    for day_index in range(first_day, last_day + 1):
        plan = world.plan(day_index)
        if day_index == last_day and last_limit is not None:
            plan = plan[:last_limit]
        if not plan:
            continue
        day = params.start + timedelta(days=day_index)
        folder = os.path.join(dest, f"{day:%Y}", f"{day:%m}", f"{day:%d}")
        os.makedirs(folder, exist_ok=True)
        incidents = world.incidents(day_index)
        rng = random.Random(f"{seed}/content/{day_index}")
        weekday = 0.55 if day.weekday() >= 5 else 1.0
        for place, (r, d, mean) in enumerate(plan):
            reporter, domain = reporters[r], domains[d]
            layout = "compact"
            if shape == "mixed":
                reporter, layout = _shaped(reporter, MIXED_SHAPES[place % len(MIXED_SHAPES)])
            traffic = _bench_traffic(rng, reporter, domain, mean * weekday, incidents[d])
            generated = build_report(reporter, domain, day, traffic, salt=seed)
            data = encode_report(generated.report, reporter, layout=layout)
            with open(os.path.join(folder, generated.filename), "wb") as fh:
                fh.write(data)
            files += 1
            total += len(data)
    return files, total


_WORLD_CACHE: dict[_Params, _World] = {}


def generate_archive(
    dest: Path,
    *,
    reports: int | None = None,
    domains: int = 50,
    reporters: int = 20,
    days: int = 30,
    start: date = date(2026, 1, 1),
    seed: int = 0,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    shape: str = "compact",
) -> ArchiveStats:
    """Write a realistic archive of gzipped reports into ``dest/YYYY/MM/DD/``.

    Without ``reports`` every report of ``days`` days from ``start`` is written. With
    ``reports`` exactly that many files are written: generation stops early, or goes
    on past ``days`` until the count is reached. The output depends only on the
    arguments (not on ``jobs``), and reports are produced day by day, so memory use
    stays flat however many files are asked for. ``progress`` is called with the
    number of files written so far after each batch. ``shape`` is ``compact`` (every
    report as its reporter writes it, compact JSON) or ``mixed`` (see :func:`_shaped`).
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    if reports is not None and reports < 0:
        raise ValueError("reports must be >= 0")
    if domains < 1 or reporters < 1 or days < 1:
        raise ValueError("domains, reporters and days must be >= 1")
    params = _Params(domains, reporters, days, start, seed)
    world = _WORLD_CACHE.get(params) or _World(params)
    _WORLD_CACHE.clear()
    _WORLD_CACHE[params] = world
    if not world.pairs:
        raise ValueError("no reporter covers any domain; use more domains or reporters")
    # Plan: how many reports each day has, until the window or the count is done.
    counts: list[int] = []
    remaining = reports
    day_index = 0
    while (remaining is None and day_index < days) or (remaining is not None and remaining > 0):
        n = len(world.plan(day_index))
        if remaining is not None:
            n = min(n, remaining)
            remaining -= n
        counts.append(n)
        day_index += 1
    tasks = list(_batches(counts, max(200, sum(counts) // max(1, jobs * 8))))
    dest.mkdir(parents=True, exist_ok=True)
    files = total = 0
    if jobs <= 1 or len(tasks) <= 1:
        for first, last, limit in tasks:
            f, b = _write_days(str(dest), params, first, last, limit, shape)
            files, total = files + f, total + b
            if progress is not None:
                progress(files)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_write_days, str(dest), params, *task, shape) for task in tasks]
            for future in futures:
                f, b = future.result()
                files, total = files + f, total + b
                if progress is not None:
                    progress(files)
    return ArchiveStats(files=files, bytes=total, days=len(counts))


def _batches(counts: list[int], size: int) -> Iterator[tuple[int, int, int | None]]:
    """Group consecutive days into tasks of about ``size`` reports."""
    first, acc = 0, 0
    for index, n in enumerate(counts):
        acc += n
        if acc >= size or index == len(counts) - 1:
            yield first, index, n if index == len(counts) - 1 else None
            first, acc = index + 1, 0
