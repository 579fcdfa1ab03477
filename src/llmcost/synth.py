"""Deterministic synthetic request logs and revenue for a fictional AI SaaS.

The company is "Acme Helpdesk": a support platform with six LLM features whose cost shapes differ
on purpose (cheap high-volume calls, long-input summaries, cached chat, expensive agent runs,
batch jobs). Usage follows a power law over customers and users, a few pro customers and one
enterprise customer cost more than they pay, one self-hosted model has no public price, and some
services log vendor-style field names. Everything derives from ``random.Random(seed)`` so the same
arguments give byte-identical files.

Speed: lines are formatted with f-strings (every interpolated string is an ASCII id or name we
control, so no JSON escaping is needed) and streamed one hour at a time; memory does not grow
with ``requests``.
"""

from __future__ import annotations

import calendar
import csv
import gzip
import math
import random
from bisect import bisect, bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from statistics import NormalDist
from typing import BinaryIO

__all__ = ["FEATURES", "SynthSummary", "generate"]

FEATURES = (
    "support-chat",
    "summarize",
    "classify-ticket",
    "research-agent",
    "weekly-report",
    "autocomplete",
)
_CHAT, _SUMMARIZE, _CLASSIFY, _RESEARCH, _WEEKLY, _AUTOCOMPLETE = range(6)
_FREE, _PRO, _ENTERPRISE = range(3)
_PLANS = ("free", "pro", "enterprise")

_HOUR_MS = 3_600_000
_N_CUSTOMERS = 60
_LONG_CONTEXT = 200_000  # input size above which long-context rates apply (Sonnet 4.5)

# Share of weekly-report lines in the whole data set (they only run Monday 02:00-06:00 UTC).
_WEEKLY_SHARE = 0.008
# Gross margin each plan's book is priced for (free, pro, enterprise), at list prices.
_TARGET_MARGIN = (0.0, 0.55, 0.75)


@dataclass(frozen=True)
class SynthSummary:
    requests: int  # lines written to request logs
    customers: int
    users: int
    files: list[Path]


class _Model:
    """A model as the app logs it, its list price (USD per 1M tokens) and a latency profile."""

    __slots__ = (  # noqa: RUF023 (grouped by meaning)
        "name", "provider", "frag", "frag_np", "price", "long", "pin", "pout",
        "base_ms", "ms_out", "anthropic", "openai", "ctx_cap",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        provider: str,
        price: tuple[float, float, float, float, float] | None,
        base_ms: float,
        ms_out: float,
        ctx_cap: int,
        long: tuple[float, float, float, float, float] | None = None,
    ) -> None:
        self.name = name
        self.provider = provider
        # Pre-rendered JSON fragments; ~10% of lines omit provider so ingest must infer it.
        self.frag = f'"provider":"{provider}","model":"{name}"'
        self.frag_np = f'"model":"{name}"'
        # (input, output, cache_read, cache_write_5m, cache_write_1h), per token.
        self.price = None if price is None else tuple(p * 1e-6 for p in price)
        self.long = None if long is None else tuple(p * 1e-6 for p in long)
        # Plain floats for the hot paths (0 for an unpriced model).
        self.pin = 0.0 if self.price is None else self.price[0]
        self.pout = 0.0 if self.price is None else self.price[1]
        self.base_ms = base_ms
        self.ms_out = ms_out
        self.anthropic = provider == "anthropic"  # explicit cache writes, nested usage logs
        self.openai = provider in ("openai", "google")  # implicit prefix caching, no writes
        self.ctx_cap = ctx_cap


# List prices as published in 2026 (see shared/reference/pricing-sources.md); used only to size
# revenue and the app's own naive cost_usd estimate. OpenAI/Google charge no cache write.
_SONNET = _Model(
    "claude-sonnet-4-5-20250929",
    "anthropic",
    (3.0, 15.0, 0.30, 3.75, 6.0),
    600,
    14,
    400_000,
    long=(6.0, 22.5, 0.60, 7.5, 12.0),
)
_HAIKU = _Model("claude-haiku-4-5", "anthropic", (1.0, 5.0, 0.10, 1.25, 2.0), 350, 6, 195_000)
_OPUS = _Model("claude-opus-4-5", "anthropic", (5.0, 25.0, 0.50, 6.25, 10.0), 900, 22, 195_000)
_GPT4O_MINI = _Model(
    "gpt-4o-mini-2024-07-18", "openai", (0.15, 0.60, 0.075, 0.15, 0.15), 300, 8, 125_000
)
_NANO = _Model("gpt-4.1-nano", "openai", (0.10, 0.40, 0.025, 0.10, 0.10), 200, 4, 1_000_000)
_GPT5 = _Model("gpt-5", "openai", (1.25, 10.0, 0.125, 1.25, 1.25), 1500, 12, 272_000)
_GPT5_MINI = _Model("gpt-5-mini", "openai", (0.25, 2.0, 0.025, 0.25, 0.25), 700, 7, 272_000)
_FLASH = _Model("gemini-2.5-flash", "google", (0.30, 2.50, 0.03, 0.30, 0.30), 300, 4, 1_000_000)
# Self-hosted fine-tune: deliberately has no public price so reports show unpriced coverage.
_ACME_FT = _Model("acme-ft-llama-8b", "self-hosted", None, 40, 2, 8_000)

_ModelTable = tuple[tuple[float, _Model], ...]

# Per plan (free, pro, enterprise): cumulative probability -> model.
_CHAT_MODELS: tuple[_ModelTable, ...] = (
    ((0.7, _HAIKU), (1.0, _GPT5_MINI)),
    ((0.75, _SONNET), (1.0, _HAIKU)),
    ((0.88, _SONNET), (1.0, _OPUS)),
)
_RESEARCH_MODELS: tuple[_ModelTable, ...] = (
    ((1.0, _GPT5_MINI),),
    ((0.7, _SONNET), (1.0, _GPT5)),
    ((0.45, _SONNET), (0.8, _OPUS), (1.0, _GPT5)),
)
_SUMMARIZE_MODELS: tuple[_ModelTable, ...] = (
    ((0.6, _GPT4O_MINI), (1.0, _FLASH)),
    ((0.5, _GPT4O_MINI), (0.85, _FLASH), (1.0, _GPT5_MINI)),
    ((0.4, _GPT4O_MINI), (0.8, _FLASH), (1.0, _GPT5_MINI)),
)
_CLASSIFY_MODELS: tuple[_ModelTable, ...] = (
    ((0.85, _NANO), (1.0, _GPT4O_MINI)),
    ((0.7, _NANO), (0.92, _HAIKU), (1.0, _GPT4O_MINI)),
    ((0.6, _NANO), (0.9, _HAIKU), (1.0, _GPT4O_MINI)),
)
_AUTOCOMPLETE_MODELS: tuple[_ModelTable, ...] = (
    ((1.0, _NANO),),
    ((0.55, _NANO), (0.85, _FLASH), (1.0, _GPT4O_MINI)),
    ((0.4, _NANO), (0.7, _FLASH), (1.0, _GPT4O_MINI)),
)
_WEEKLY_MODELS: _ModelTable = ((0.7, _SONNET), (1.0, _GPT5_MINI))
_ACME_EVERY = 125  # a 1-in-125 canary of classify-ticket traffic goes to the fine-tune

# Task-start weights per feature (support-chat, summarize, classify, research, -, autocomplete),
# sized so line shares land near chat 20%, summarize 8%, classify 20%, agent 9%, autocomplete 42%.
_BASE_FEATURE_WEIGHTS = (4.4, 8.0, 20.0, 0.55, 0.0, 42.0)
_PLAN_FEATURE_MULT = (
    (1.0, 0.8, 0.6, 0.35, 0.0, 1.3),
    (1.0, 1.0, 1.0, 1.0, 0.0, 1.0),
    (1.1, 1.1, 1.4, 1.4, 0.0, 0.8),
)

# UTC hour-of-day and day-of-week rhythm: US + EU customers, quiet weekends.
_HOUR_WEIGHTS = (
    0.35, 0.28, 0.22, 0.18, 0.16, 0.18, 0.25, 0.40, 0.60, 0.78, 0.88, 0.92,
    0.95, 1.00, 1.00, 0.98, 0.95, 0.92, 0.85, 0.75, 0.65, 0.55, 0.48, 0.42,
)  # fmt: skip
_DOW_WEIGHTS = (1.0, 1.05, 1.05, 1.0, 0.88, 0.42, 0.38)
_MONTHLY_GROWTH = 1.06
_APP_VERSIONS = ((0.35, "2.13.4"), (0.7, "2.14.0"), (1.01, "2.15.1"))
_REGIONS = ((0.6, "us-east-1"), (0.9, "eu-west-1"), (1.0, "ap-southeast-2"))

# 4096 standard-normal quantiles: a table lookup is 5x cheaper than random.gauss; the _E tables
# are exp(sigma * z), i.e. log-normal multipliers with median 1, indexed by getrandbits(12).
_Z = tuple(NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096))
_E05 = tuple(math.exp(0.5 * z) for z in _Z)
_E06 = tuple(math.exp(0.6 * z) for z in _Z)

_Line = tuple[int, int, str]  # (ms since window start, feature index, JSON line)
_first: Callable[[_Line], int] = itemgetter(0)


def _pick(table: _ModelTable, x: float) -> _Model:
    for p, m in table:
        if x < p:
            return m
    return table[-1][1]


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _cost(m: _Model, inp: int, cr: int, cw: int, cw1h: int, out: int) -> float:
    """True list cost of one call (the pricing rule of SPEC section 4), for revenue sizing."""
    p = m.long if m.long is not None and inp > _LONG_CONTEXT else m.price
    if p is None:
        return 0.0
    return (inp - cr - cw - cw1h) * p[0] + cr * p[2] + cw * p[3] + cw1h * p[4] + out * p[1]


class _Sink:
    """One log file, optionally gzip with a fixed header so output stays byte-identical."""

    def __init__(self, path: Path, compress: bool) -> None:
        self._raw: BinaryIO = open(path, "wb", buffering=1 << 20)  # noqa: SIM115
        self._gz = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=3)
            if compress
            else None
        )
        self.write: Callable[[bytes], int] = (
            self._gz.write if self._gz is not None else self._raw.write
        )

    def close(self) -> None:
        if self._gz is not None:
            self._gz.close()
        self._raw.close()


class _Synth:
    def __init__(self, requests: int, seed: int, start: date, months: int) -> None:
        self.rng = random.Random(seed)
        self.n_requests = requests
        self._calendar(start, months)
        self._population()
        self.buf: list[_Line] = []
        self.classify_seen = 0
        # True list cost per customer-month, to size revenue once the logs are written.
        self.cost = [0.0] * (_N_CUSTOMERS * len(self.month_keys))

    # -- setup -------------------------------------------------------------------------------

    def _calendar(self, start: date, months: int) -> None:
        rng = self.rng
        t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
        end = _add_months(start, months)
        n_days = (end - start).days
        self.n_hours = n_days * 24
        self.end_ms = self.n_hours * _HOUR_MS
        self.epoch_ms = int(t0.timestamp()) * 1000
        self.month_keys: list[str] = []
        self.hour_prefix: list[str] = []
        self.hour_month: list[int] = []
        self.hour_tail: list[str] = []  # closes each line with the app version of that day
        weights: list[float] = []
        weekly_hours: list[int] = []
        day_noise = [0.9 + 0.2 * rng.random() for _ in range(n_days)]
        incident_day = rng.randrange(n_days)  # a provider overload: Anthropic errors spike
        self.err_mult = [1.0] * self.n_hours
        for h in range(self.n_hours):
            dt = t0 + timedelta(hours=h)
            key = dt.strftime("%Y-%m")
            if not self.month_keys or self.month_keys[-1] != key:
                self.month_keys.append(key)
            self.hour_month.append(len(self.month_keys) - 1)
            self.hour_prefix.append(dt.strftime("%Y-%m-%dT%H:"))
            day = h // 24
            frac = day / n_days
            version = next(v for f, v in _APP_VERSIONS if frac < f)
            self.hour_tail.append(f',"app_version":"{version}"}}\n')
            wd = dt.weekday()
            weights.append(
                _HOUR_WEIGHTS[dt.hour]
                * _DOW_WEIGHTS[wd]
                * day_noise[day]
                * _MONTHLY_GROWTH ** (day / 30.44)
            )
            if wd == 0 and 2 <= dt.hour < 6:
                weekly_hours.append(h)
            if day == incident_day and 14 <= dt.hour < 19:
                self.err_mult[h] = 10.0
        total = sum(weights) or 1.0
        # Cumulative line targets per hour: rounding the running sum keeps the total exact.
        self.targets: list[int] = []
        acc = 0.0
        for w in weights:
            acc += w
            self.targets.append(round(self.n_requests * acc / total))
        # Weekly reports: a fixed chance p per event in the Monday batch window, solved so their
        # lines are _WEEKLY_SHARE of all lines. A run has ~5 lines, other events ~1.3 on average;
        # the in-window share sw = 5p / (5p + 1.3(1 - p)).
        window = sum(weights[h] for h in weekly_hours) / total
        sw = min(0.8, _WEEKLY_SHARE / window) if window else 0.0
        p = sw * 1.3 / (5.0 * (1.0 - sw) + sw * 1.3)
        self.weekly_p = [0.0] * self.n_hours
        for h in weekly_hours:
            self.weekly_p[h] = p
        self.mmss = [f"{s // 60:02d}:{s % 60:02d}." for s in range(3600)]
        self.ms3 = [f"{i:03d}Z" for i in range(1000)]

    def _population(self) -> None:
        rng = self.rng
        plans = [_ENTERPRISE] * 8 + [_PRO] * 26 + [_FREE] * 26
        rng.shuffle(plans)
        pro = [c for c in range(_N_CUSTOMERS) if plans[c] == _PRO]
        ent = [c for c in range(_N_CUSTOMERS) if plans[c] == _ENTERPRISE]
        # The story: three pro "power" accounts that live in the agent, and one enterprise design
        # partner on an early contract; these end up under water.
        self.under_water = set(rng.sample(pro, 3)) | {rng.choice(ent)}
        self.plans = plans
        self.seats: list[int] = []
        self.nominal: list[float] = []  # fictional monthly list price, USD
        self.uw_ratio: list[float] = []  # revenue / cost for the under-water ones
        self.healthy_floor: list[float] = []
        self.owner: list[int] = []  # the user who runs a customer's weekly report
        cust_w: list[float] = []
        user_cum: list[float] = []
        self.user_head: list[str] = []
        self.user_head_ws: list[str] = []
        self.user_region: list[str] = []
        self.user_cust: list[int] = []
        self.user_plan: list[int] = []
        self.user_feat: list[list[float]] = []
        acc = 0.0
        for c in range(_N_CUSTOMERS):
            plan = plans[c]
            cid = f"cus_{c + 1:04d}"
            x = rng.random()
            region = next(r for p, r in _REGIONS if x < p)
            # Usage weight per seat: free trials are busy, a cheap pro seat ($25) uses less than
            # an enterprise seat, so the paid plans can be healthy on their price ladders.
            if plan == _FREE:
                seats = 1 + int(rng.random() * 4)
                w = seats * 1.6 * math.exp(0.6 * _Z[rng.getrandbits(12)])
                price = 0.0
            elif plan == _PRO:
                seats = 3 + int(rng.random() * 13)
                w = seats * 0.4 * math.exp(0.5 * _Z[rng.getrandbits(12)])
                price = float(min(299, 49 + 25 * (seats - 1)))
            else:
                seats = 18 + int(rng.random() * 43)
                w = seats * 1.3 * math.exp(0.4 * _Z[rng.getrandbits(12)])
                contract = round(220 * seats * (0.8 + 0.5 * rng.random()), -2)
                price = float(min(15_000, max(2_000, contract)))
            power = c in self.under_water
            if power:
                w *= 3.0 if plan == _PRO else 2.0
            self.seats.append(seats)
            self.nominal.append(price)
            self.uw_ratio.append(0.45 + 0.4 * rng.random())
            self.healthy_floor.append(0.15 + 0.25 * rng.random())
            cust_w.append(w)
            # Within a customer, usage is Pareto: one or two people do most of the work.
            shares = [rng.paretovariate(1.2) for _ in range(seats)]
            ssum = sum(shares)
            self.owner.append(len(self.user_cust))
            for i in range(seats):
                uid = f"usr_{c + 1:04d}_{i + 1:02d}"
                tail = f'"user_id":"{uid}","plan":"{_PLANS[plan]}"'
                self.user_head.append(f'"customer_id":"{cid}",{tail}')
                self.user_head_ws.append(f'"workspace_id":"{cid}",{tail}')
                self.user_region.append(f',"region":"{region}"')
                self.user_cust.append(c)
                self.user_plan.append(plan)
                acc += w * shares[i] / ssum
                user_cum.append(acc)
                # Feature affinity: plan defaults times a personal taste; some users live in
                # the research agent (and all of a power account's heavy users do).
                mult = _PLAN_FEATURE_MULT[plan]
                fw = [
                    _BASE_FEATURE_WEIGHTS[f] * mult[f] * math.exp(0.6 * _Z[rng.getrandbits(12)])
                    for f in range(6)
                ]
                if (power and i < 3) or (plan != _PRO and rng.random() < 0.05):
                    fw[_RESEARCH] *= 6.0
                    fw[_CHAT] *= 2.0
                tot = sum(fw)
                cum: list[float] = []
                a = 0.0
                for f in range(6):
                    a += fw[f] / tot
                    cum.append(a)
                cum[-1] = 1.0
                self.user_feat.append(cum)
        self.user_cum = user_cum
        self.user_cbase = [c * len(self.month_keys) for c in self.user_cust]
        self.user_total = acc
        paid = [c for c in range(_N_CUSTOMERS) if plans[c] != _FREE]
        self.paid = paid
        pcum: list[float] = []
        a = 0.0
        for c in paid:
            a += cust_w[c]
            pcum.append(a)
        self.paid_cum = pcum

    # -- helpers -----------------------------------------------------------------------------

    def _ts(self, t: int) -> str:
        return self.hour_prefix[t // _HOUR_MS] + self.mmss[(t // 1000) % 3600] + self.ms3[t % 1000]

    def _fit(self, t: int, offsets: list[int]) -> list[int]:
        """Squeeze a task that would run past the end of the window back inside it."""
        last = offsets[-1] if offsets else 0
        if t + last < self.end_ms:
            return offsets
        f = (self.end_ms - 1 - t) / last
        return [int(o * f) for o in offsets]

    def _lat(self, m: _Model, inp: int, cr: int, out: int) -> int:
        jitter = 0.7 + 0.6 * self.rng.random()
        return int((m.base_ms + out * m.ms_out + (inp - cr) * 0.01) * jitter)

    def _cost_usd(self, m: _Model, inp: int, out: int) -> str:
        """The app's own estimate on ~30% of lines: list input/output only, no cache discounts."""
        p = m.price
        if p is None or self.rng.random() >= 0.3:
            return ""
        return f',"cost_usd":{(inp * p[0] + out * p[1]):.6g}'

    def _book(self, u: int, t: int, cost: float) -> None:
        self.cost[self.user_cbase[u] + self.hour_month[t // _HOUR_MS]] += cost

    # -- features ----------------------------------------------------------------------------

    def _chat(self, t: int, u: int, left: int) -> int:
        """Multi-turn conversation; context grows per turn, prefix served from the prompt cache."""
        rng = self.rng
        r = rng.random
        gb = rng.getrandbits
        z = _Z
        plan = self.user_plan[u]
        m = _pick(_CHAT_MODELS[plan], r())
        turns = min(40, 1 + int(-3.2 * math.log(1.0 - r())))
        conv = f"conv_{gb(48):012x}"
        system = 3184
        one_hour = plan == _ENTERPRISE and m.anthropic  # enterprise pins a 1-hour cache TTL
        p_err = 0.012 * (self.err_mult[t // _HOUR_MS] if m.anthropic else 1.0)
        hist = 0
        bp = 0  # cached prefix (breakpoint) left by the previous turn
        off = 0
        expired = False
        rows: list[tuple[int, int, int, int, int, int, int, str]] = []
        for k in range(1, turns + 1):
            umsg = int(60 * math.exp(0.8 * z[gb(12)])) + 5
            if r() < 0.5:  # retrieved help-centre articles ride along with the question
                umsg += int(900 * math.exp(0.5 * z[gb(12)]))
            out = min(2000, 20 + int(200 * math.exp(0.6 * z[gb(12)])))
            inp = system + hist + umsg
            cw1h = 0
            if m.anthropic:
                # The cache breakpoint sits before the newest user message, which stays uncached.
                if k == 1 or expired:
                    cr = system if r() < 0.7 else 0
                    cw = inp - umsg - cr
                    if cr == 0 and one_hour:
                        cw1h, cw = system, cw - system
                else:
                    cr = bp
                    cw = inp - umsg - bp
                bp = inp - umsg
            else:
                prefix = system + hist if not expired and k > 1 else (system if r() < 0.7 else 0)
                cr = prefix // 128 * 128
                cw = 0
            if r() < p_err:
                # The model answered but the app rejected it (timeout, guardrail): billed, retried.
                rows.append((off, k, inp, cr, cw, cw1h, out, "error"))
                if r() >= 0.9:
                    break
                off += 1500 + int(3000 * r())
                if m.anthropic:  # the failed call already wrote the prefix to the cache
                    cr, cw, cw1h = inp - umsg, 0, 0
                out = min(2000, 20 + int(200 * math.exp(0.6 * z[gb(12)])))
                rows.append((off, k, inp, cr, cw, cw1h, out, "retry"))
            else:
                rows.append((off, k, inp, cr, cw, cw1h, out, "ok"))
            hist += umsg + out
            gap = int(45_000 * math.exp(0.7 * z[gb(12)]))
            if r() < 0.08:  # the user wandered off and came back after the cache expired
                gap += 300_000 + int(1_200_000 * r())
            expired = gap > 300_000
            off += gap
        rows = rows[:left]
        offs = self._fit(t, [row[0] for row in rows])
        add = self.buf.append
        head = self.user_head[u]
        tail = self.user_region[u]
        for (_, k, inp, cr, cw, cw1h, out, status), o in zip(rows, offs, strict=True):
            ts = t + o
            h1 = f',"cache_write_1h_tokens":{cw1h}' if cw1h else ""
            line = (
                f'{{"request_id":"req_{gb(64):016x}","timestamp":"{self._ts(ts)}",'
                f'{m.frag_np if r() < 0.1 else m.frag},"feature":"support-chat",{head},'
                f'"conversation_id":"{conv}","step":{k},"input_tokens":{inp},'
                f'"cache_read_tokens":{cr},"cache_write_tokens":{cw}{h1},"output_tokens":{out},'
                f'"status":"{status}","latency_ms":{self._lat(m, inp, cr, out)}'
                f"{self._cost_usd(m, inp, out)}{tail}{self.hour_tail[ts // _HOUR_MS]}"
            )
            add((ts, _CHAT, line))
            self._book(u, ts, _cost(m, inp, cr, cw, cw1h, out))
        return len(rows)

    def _research(self, t: int, u: int, left: int) -> int:
        """Agent run: steps re-send a growing context; some steps fail and are retried."""
        rng = self.rng
        r = rng.random
        gb = rng.getrandbits
        z = _Z
        m = _pick(_RESEARCH_MODELS[self.user_plan[u]], r())
        reasoning_model = m is _GPT5 or m is _GPT5_MINI
        # A few "deep dive" runs pull whole document sets in: late steps pass 200k tokens.
        deep = m.ctx_cap > _LONG_CONTEXT and r() < 0.015
        steps = 10 + int(10 * r()) if deep else min(40, 2 + int(-6.0 * math.log(1.0 - r())))
        tool_med = 24_000 if deep else 2_600
        run = f"run_{gb(48):012x}"
        p_err = 0.03 * (self.err_mult[t // _HOUR_MS] if m.anthropic else 1.0)
        base = 6_800  # system prompt + tool definitions
        ctx = base + int(350 * math.exp(0.7 * z[gb(12)]))
        bp = 0
        off = 0
        rows: list[tuple[int, int, int, int, int, int, int, str]] = []
        for s in range(1, steps + 1):
            inp = ctx
            if inp > m.ctx_cap:
                break
            visible = min(4000, 30 + int(350 * math.exp(0.7 * z[gb(12)])))
            reasoning = int(900 * math.exp(0.8 * z[gb(12)])) if reasoning_model else 0
            if m.anthropic:
                # Breakpoint on the last tool result; the step's short instruction stays uncached.
                cr = (base if r() < 0.8 else 0) if s == 1 else bp
                bp = max(cr, inp - 4 - int(60 * r()))
                cw = bp - cr
            else:
                cr = (bp if s > 1 else (base if r() < 0.8 else 0)) // 128 * 128
                cw = 0
                bp = inp
            status = "ok"
            if r() < p_err:
                # Invalid tool call or timeout after generation: billed, then retried or abandoned.
                rows.append((off, s, inp, cr, cw, visible + reasoning, reasoning, "error"))
                if r() >= 0.8:
                    break
                off += 2000 + int(6000 * r())
                if m.anthropic:  # the failed call already wrote the prefix to the cache
                    cr, cw = bp, 0
                else:
                    cr = inp // 128 * 128
                visible = min(4000, 30 + int(350 * math.exp(0.7 * z[gb(12)])))
                status = "retry"
            rows.append((off, s, inp, cr, cw, visible + reasoning, reasoning, status))
            tool = min(80_000, 50 + int(tool_med * math.exp(0.9 * z[gb(12)])))
            ctx = inp + visible + tool  # reasoning is not carried into the next step
            off += self._lat(m, inp, cr, visible + reasoning) + int(3000 * math.exp(z[gb(12)]))
        rows = rows[:left]
        offs = self._fit(t, [row[0] for row in rows])
        add = self.buf.append
        head = self.user_head[u]
        tail = self.user_region[u]
        for (_, s, inp, cr, cw, out, rsn, status), o in zip(rows, offs, strict=True):
            ts = t + o
            if m.anthropic:
                # Anthropic's own usage object: input_tokens EXCLUDES cache reads and writes.
                tokens = (
                    f'"usage":{{"input_tokens":{inp - cr - cw},"cache_read_input_tokens":{cr},'
                    f'"cache_creation_input_tokens":{cw},"output_tokens":{out}}}'
                )
            else:
                tokens = (
                    f'"input_tokens":{inp},"cache_read_tokens":{cr},"output_tokens":{out},'
                    f'"reasoning_tokens":{rsn}'
                )
            line = (
                f'{{"request_id":"req_{gb(64):016x}","timestamp":"{self._ts(ts)}",'
                f'{m.frag_np if r() < 0.1 else m.frag},"feature":"research-agent",{head},'
                f'"task_id":"{run}","step":{s},{tokens},"status":"{status}",'
                f'"latency_ms":{self._lat(m, inp, cr, out)}'
                f"{self._cost_usd(m, inp, out)}{tail}{self.hour_tail[ts // _HOUR_MS]}"
            )
            add((ts, _RESEARCH, line))
            self._book(u, ts, _cost(m, inp, cr, cw, 0, out))
        return len(rows)

    def _summarize(self, t: int, u: int, left: int) -> int:
        """Long document in, short summary out; logged with OpenAI-style names and epoch ms."""
        r = self.rng.random
        gb = self.rng.getrandbits
        m = _pick(_SUMMARIZE_MODELS[self.user_plan[u]], r())
        inp = min(120_000, 600 + int(5_000 * math.exp(0.9 * _Z[gb(12)])))
        out = min(1500, 40 + int(220 * math.exp(0.5 * _Z[gb(12)])))
        cr = 1024 if inp > 1100 and r() < 0.55 else 0  # shared instructions, cached implicitly
        status = "error" if r() < 0.004 else "ok"
        cached = f',"cached_tokens":{cr}' if cr else ""
        line = (
            f'{{"request_id":"req_{gb(64):016x}","ts":{self.epoch_ms + t},'
            f'{m.frag_np if r() < 0.1 else m.frag},"feature":"summarize",{self.user_head_ws[u]},'
            f'"prompt_tokens":{inp},"completion_tokens":{out}{cached},"status":"{status}",'
            f'"latency_ms":{self._lat(m, inp, cr, out)}{self._cost_usd(m, inp, out)}'
            f"{self.user_region[u]}{self.hour_tail[t // _HOUR_MS]}"
        )
        self.buf.append((t, _SUMMARIZE, line))
        self._book(u, t, _cost(m, inp, cr, 0, 0, out))
        return 1

    def _classify(self, t: int, u: int, left: int) -> int:
        """Tiny prompt, a label out; failed calls are re-queued once."""
        r = self.rng.random
        gb = self.rng.getrandbits
        self.classify_seen += 1
        if self.classify_seen % _ACME_EVERY == _ACME_EVERY // 2:
            m = _ACME_FT
        else:
            m = _pick(_CLASSIFY_MODELS[self.user_plan[u]], r())
        inp = min(1200, 160 + int(220 * _E05[gb(12)]))
        n = 2 if r() < 0.004 and left > 1 else 1
        head = self.user_head[u]
        region = self.user_region[u]
        priced = m.price is not None
        for i in range(n):
            ts = min(self.end_ms - 1, t + i * (2000 + int(5000 * r())))
            h = ts // _HOUR_MS
            sec = ts // 1000
            stamp = self.hour_prefix[h] + self.mmss[sec % 3600] + self.ms3[ts - sec * 1000]
            status = "ok" if n == 1 else ("error", "retry")[i]
            out = 2 + int(9 * r())
            lat = int((m.base_ms + out * m.ms_out + inp * 0.01) * (0.7 + 0.6 * r()))
            list_cost = inp * m.pin + out * m.pout  # prompts are below the cacheable minimum
            cost = f',"cost_usd":{list_cost:.6g}' if priced and r() < 0.3 else ""
            self.cost[self.user_cbase[u] + self.hour_month[h]] += list_cost
            self.buf.append(
                (
                    ts,
                    _CLASSIFY,
                    (
                        f'{{"request_id":"req_{gb(64):016x}","timestamp":"{stamp}",'
                        f'{m.frag_np if r() < 0.1 else m.frag},"feature":"classify-ticket",{head},'
                        f'"input_tokens":{inp},"output_tokens":{out},"status":"{status}",'
                        f'"latency_ms":{lat}{cost}{region}{self.hour_tail[h]}'
                    ),
                )
            )
        return n

    def _autocomplete(self, t: int, u: int, left: int) -> int:
        """Very high volume, tiny calls; ~15% answered by the app's own semantic cache."""
        # The hottest path (~40% of lines): helpers are inlined here on purpose.
        rng = self.rng
        r = rng.random
        gb = rng.getrandbits
        m = _pick(_AUTOCOMPLETE_MODELS[self.user_plan[u]], r())
        inp = min(1200, 40 + int(160 * _E05[gb(12)]))
        out = min(80, 1 + int(13 * _E06[gb(12)]))
        h = t // _HOUR_MS
        sec = t // 1000
        ts = self.hour_prefix[h] + self.mmss[sec % 3600] + self.ms3[t - sec * 1000]
        if r() < 0.15:
            hit = "true"
            lat = 2 + int(10 * r())
            cost = ""
            status = "ok"
        else:
            hit = "false"
            lat = int((m.base_ms + out * m.ms_out + inp * 0.01) * (0.7 + 0.6 * r()))
            list_cost = inp * m.pin + out * m.pout  # no prompt cache here: list == true cost
            cost = f',"cost_usd":{list_cost:.6g}' if r() < 0.3 else ""
            status = "error" if r() < 0.002 else "ok"
            self.cost[self.user_cbase[u] + self.hour_month[h]] += list_cost
        line = (
            f'{{"request_id":"req_{gb(64):016x}","timestamp":"{ts}",'
            f'{m.frag_np if r() < 0.1 else m.frag},"feature":"autocomplete",'
            f'{self.user_head[u]},"input_tokens":{inp},"output_tokens":{out},"cache_hit":{hit},'
            f'"status":"{status}","latency_ms":{lat}{cost}{self.user_region[u]}{self.hour_tail[h]}'
        )
        self.buf.append((t, _AUTOCOMPLETE, line))
        return 1

    def _weekly(self, t: int, left: int) -> int:
        """Monday batch job for a paid customer: big data in, long report out, 1h-cached prompt."""
        r = self.rng.random
        gb = self.rng.getrandbits
        c = self.paid[bisect(self.paid_cum, r() * self.paid_cum[-1])]
        u = self.owner[c]
        m = _pick(_WEEKLY_MODELS, r())
        sections = min(left, 3 + int(5 * r()))
        task = f"wr_{gb(48):012x}"
        system = 2_400
        offs = self._fit(t, [s * (20 + int(180 * r())) for s in range(sections)])
        head = self.user_head[u]
        for s in range(sections):
            ts = t + offs[s]
            inp = system + min(60_000, 3_000 + int(11_000 * math.exp(0.6 * _Z[gb(12)])))
            out = min(12_000, 1_200 + int(2_600 * math.exp(0.4 * _Z[gb(12)])))
            cw1h = cr = 0
            if m.anthropic:
                # Batches can take longer than 5 minutes, so the prompt is cached for an hour.
                if s == 0:
                    cw1h = system
                else:
                    cr = system
            elif s:
                cr = system // 128 * 128
            cache = f',"cache_read_tokens":{cr}' if cr else ""
            if cw1h:
                cache += f',"cache_write_1h_tokens":{cw1h}'
            status = "error" if r() < 0.01 else "ok"  # batch item expired
            lat = int(1_500_000 * math.exp(0.8 * _Z[gb(12)]))
            line = (
                f'{{"request_id":"req_{gb(64):016x}","timestamp":"{self._ts(ts)}",'
                f'{m.frag_np if r() < 0.1 else m.frag},"feature":"weekly-report",{head},'
                f'"task_id":"{task}","step":{s + 1},"batch":true,"input_tokens":{inp}{cache},'
                f'"output_tokens":{out},"status":"{status}","latency_ms":{lat}'
                f"{self._cost_usd(m, inp, out)}{self.user_region[u]}"
                f"{self.hour_tail[ts // _HOUR_MS]}"
            )
            self.buf.append((ts, _WEEKLY, line))
            self._book(u, ts, 0.5 * _cost(m, inp, cr, 0, cw1h, out))  # batch API: half price
        return sections

    # -- driver ------------------------------------------------------------------------------

    def run(self, out_dir: Path, compress: bool) -> SynthSummary:
        logs = out_dir / "logs"
        suffix = ".jsonl.gz" if compress else ".jsonl"
        files: list[Path] = []
        for f in FEATURES:
            (logs / f).mkdir(parents=True, exist_ok=True)
            files += [logs / f / f"{mk}{suffix}" for mk in self.month_keys]
        rng = self.rng
        r = rng.random
        ucum = self.user_cum
        utotal = self.user_total
        ufeat = self.user_feat
        gens: tuple[Callable[[int, int, int], int], ...] = (
            self._chat,
            self._summarize,
            self._classify,
            self._research,
            self._chat,
            self._autocomplete,  # index 4 (weekly) has zero weight per user
        )
        buf = self.buf
        n = self.n_requests
        emitted = 0
        sinks: list[_Sink] = []
        month = -1
        for h in range(self.n_hours):
            if self.hour_month[h] != month:
                for s in sinks:
                    s.close()
                month = self.hour_month[h]
                mk = self.month_keys[month]
                sinks = [_Sink(logs / f / f"{mk}{suffix}", compress) for f in FEATURES]
            h0 = h * _HOUR_MS
            target = self.targets[h]
            p_weekly = self.weekly_p[h]
            while emitted < target:
                t = h0 + int(r() * _HOUR_MS)
                if p_weekly and r() < p_weekly:
                    emitted += self._weekly(t, n - emitted)
                    continue
                u = bisect(ucum, r() * utotal)
                emitted += gens[bisect(ufeat[u], r())](t, u, n - emitted)
            # Lines of tasks that run past this hour wait in the buffer for their own hour.
            buf.sort(key=_first)
            cut = bisect_left(buf, h0 + _HOUR_MS, key=_first)
            if cut:
                chunks: list[list[str]] = [[], [], [], [], [], []]
                for _, fi, line in buf[:cut]:
                    chunks[fi].append(line)
                del buf[:cut]
                for fi, chunk in enumerate(chunks):
                    if chunk:
                        sinks[fi].write("".join(chunk).encode("ascii"))
        for s in sinks:
            s.close()
        assert not buf and emitted == n, (len(buf), emitted, n)
        rev = out_dir / "revenue.csv"
        self._write_revenue(rev)
        return SynthSummary(
            requests=emitted,
            customers=_N_CUSTOMERS,
            users=len(self.user_cust),
            files=[*sorted(files), rev],
        )

    def _write_revenue(self, path: Path) -> None:
        """Revenue is FICTIONAL.

        Each plan has a price ladder (pro $49-$299/month by seats, enterprise $2k-$15k contracts).
        A sample of ``requests`` lines is a sample of the company's traffic, so each ladder is
        scaled by one factor per plan that puts that plan's book at its target gross margin at
        list prices; this keeps the P&L story the same at 3 thousand or 10 million lines (near 10M
        the factors come out close to 1). The designated accounts are then set under water, and
        the rest kept above a modest margin floor, so "a few losers, most healthy" holds for any
        seed.
        """
        nm = len(self.month_keys)
        cost = [sum(self.cost[c * nm : (c + 1) * nm]) / nm for c in range(_N_CUSTOMERS)]
        scale = [0.0, 1.0, 1.0]
        for plan in (_PRO, _ENTERPRISE):
            book = [c for c in range(_N_CUSTOMERS) if self.plans[c] == plan]
            book = [c for c in book if c not in self.under_water]
            plan_cost = sum(cost[c] for c in book)
            if plan_cost > 0:
                nominal = sum(self.nominal[c] for c in book)
                scale[plan] = plan_cost / ((1 - _TARGET_MARGIN[plan]) * nominal)
        with open(path, "w", newline="", encoding="ascii") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["customer_id", "month", "revenue_usd", "plan"])
            for c in range(_N_CUSTOMERS):
                plan = self.plans[c]
                revenue = self.nominal[c] * scale[plan]
                if plan == _FREE:
                    revenue = 0.0
                elif c in self.under_water:
                    revenue = max(0.01, min(revenue, cost[c] * self.uw_ratio[c]))
                else:
                    revenue = max(0.01, revenue, cost[c] / (1 - self.healthy_floor[c]))
                for mk in self.month_keys:
                    w.writerow([f"cus_{c + 1:04d}", mk, f"{revenue:.2f}", _PLANS[plan]])


def generate(
    out_dir: Path,
    *,
    requests: int = 20_000,
    seed: int = 7,
    start: date = date(2026, 8, 1),
    months: int = 3,
    compress: bool = False,
) -> SynthSummary:
    """Write ``requests`` log lines under ``out_dir/logs/<feature>/<YYYY-MM>.jsonl[.gz]`` spread
    over ``months`` calendar months from ``start`` (UTC), plus ``out_dir/revenue.csv``."""
    if requests < 0:
        raise ValueError("requests must be >= 0")
    if months < 1:
        raise ValueError("months must be >= 1")
    return _Synth(requests, seed, start, months).run(Path(out_dir), compress)
