"""Turns load test: declared scenarios against the REST API, apart from the system under test.

    .venv/bin/python -m loadtests.turns [--scenarios first_turn,followups_closed_64,...] [--duration-s 20]
        [--rate R] [--upload-fraction F] [--url http://HOST:PORT] [--out loadtests/results] [--quick]

The scenarios are declared before the run, the way MLPerf loadgen declares them (the load is a
fixed description; the system under test only answers it):

- ``first_turn``: closed loop, one connection, one session at a time: ``count`` uploads back to
  back (upload -> screening answer), after ``warmup_count`` uploads that are not counted.
- ``first_turn_read_alone``: the same with films the encoder cannot establish the anatomy of, which the second
  reader reads alone (``orchestrator/encoders/second_reader.py``: two more passes, its second look): phantom films
  of the held-out ``scatter`` rendering (``READ_ALONE_SEEDS``), as another patient's or a real film would be read;
  each upload's answer says whether it was (``read_alone`` in the summary).
- ``followups_closed_64``: ``sessions`` sessions made first, then a closed loop of 64 keep-alive
  connections, each asking follow-ups on its own session for ``duration_s`` (the first
  ``warmup_s`` not counted): the capacity (turns/s).
- ``followups_closed_4``: the same with 4 connections: latency at light load.
- ``poisson_mixed``: open loop, Poisson arrivals at ``--rate`` per second (default: half the
  capacity ``followups_closed_64`` measured in the same invocation, else ``--fallback-rate``),
  follow-ups on 64 sessions with new-film uploads mixed in at ``upload_fraction``. Each request is
  sent at its scheduled time whatever came of the earlier ones, and its latency runs from the
  *scheduled* time, so a late driver or a queue counts against the system (no coordinated
  omission). Reported beside it: how many were sent late (more than ``LATE_S`` after their
  time) and how many were dropped (``--max-in-flight`` requests already outstanding, or all 64
  sessions busy with an earlier follow-up).
- ``long_session``: one session asked ``count`` follow-ups in sequence; the median latency of
  the turns around turn 2 and around turn 200, and their ratio (and the same for the slowest turn
  of each window: a question whose cost grows with the session shows there, not in the medians).

Follow-ups rotate through ``QUESTIONS`` (English and Chinese) so consecutive turns of a session
differ; sessions start at different places in the list.

The system under test: by default this script starts ``python -m orchestrator.cli serve`` on
free loopback ports (embedded encoder, no narrator, in-memory sessions; ``SERVER_ENV`` lifts the
per-tenant rate, upload and session limits and widens the request pool, so the run measures
capacity rather than refusals; 429s are still counted apart) and stops it at the end. ``--url``
drives a running server instead (its settings are then unknown here). ``--client-cpus`` and
``--server-cpus`` put this generator and the server it starts (with its analysis workers) on CPUs
apart, so that the generator does not take the cores it measures.

The load generator is one asyncio loop over raw keep-alive HTTP/1.1 connections (asyncio streams
+ h11): no client library per request. Its own CPU seconds per request (``time.process_time``)
are reported per scenario next to the server's (from /proc, when it started the server) and the
whole machine's split (ours / other processes / idle / steal), so a reader can see whether the
client or a neighbour took the cores.

Output, in ``--out``: ``turns-results.json`` (command, machine, date, server settings, and per
scenario: count, errors by status, 429s, throughput, p50/p90/p99/max latency, mean stage
seconds from the turns' ``timings``, CPU per request) and ``turns-latency.png`` (latency over
time per scenario, and the CDF). ``--quick``: a seconds-long smoke run of the same scenarios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import json
import math
import os
import platform
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import h11

from loadtests.bench_encoder import MachineShare, machine_jiffies, process_tree_cpu_s
from orchestrator.encoders.second_reader import WARNING as READ_ALONE
from orchestrator.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "orchestrator" / "api" / "data" / "examples"
FILMS = ("phantom-7.dcm", "phantom-11.dcm", "phantom-23.dcm")  # DICOM with true pixel spacing
# phantom seeds whose film drawn through the held-out ``scatter`` rendering family the encoder's maps cannot establish
# and the second reader reads alone (found by reading scatter seeds 0-19 as the service does: 5, 7, 11 and 13 are)
READ_ALONE_SEEDS = (5, 7, 11)
FILM_SETS = ("examples", "read_alone")
QUESTIONS = (
    "Is the margin of the round opacity regular?",
    "How far is it from the right hilum?",
    "If this were early lung cancer, how many typical signs does it show?",
    "what about the left lung?",
    "右肺中叶那个结节的边缘规则吗?",
    "它离右肺门多远?",
    "如果是早期肺癌,典型征象有几个?",
    "Is there a pleural effusion?",
    "How big is A1?",
    "Where is the heart?",
    "左肺有没有类似的阴影?",
    "Is the costophrenic angle sharp on both sides?",
    "结节的密度均匀吗?",
    "Compare the two lower zones.",
)
SERVER_ENV = {  # the server under test: capacity, not refusals (orchestrator/settings.py, tenancy.py)
    "HILUM_TENANT_RATE_PER_S": "0",  # no token bucket
    "HILUM_TENANT_MAX_UPLOADS": "0",  # no cap on concurrent first turns
    "HILUM_MAX_SESSIONS_PER_TENANT": "0",  # no per-tenant session quota
    "HILUM_MAX_SESSIONS": "100000",  # no eviction during a run
    "HILUM_MAX_TURNS_PER_SESSION": "1000000",  # a closed loop asks thousands of turns per session: no cap
    "HILUM_HTTP_WORKERS": "320",  # the sync pool: above --max-in-flight, so no 429 server_busy
    "HILUM_ENCODER": "embedded",
    "HILUM_LLM_URLS": "[]",  # no narrator: the composer's text
    "HILUM_REDIS_URL": "",  # in-memory sessions
    "HILUM_DRAIN_TIMEOUT_S": "2",
    "HILUM_LOG_LEVEL": "WARNING",
}
REQUEST_TIMEOUT_S = 60.0  # no answer by then: status 0, like a connection error
LATE_S = 0.002  # an open-loop request sent this long after its scheduled time is "late"
READY_TIMEOUT_S = 180.0
KINDS = ("closed", "open")
WORKS = ("first_turn", "followups", "long_session")
SETUPS = ("upload", "fork")


@dataclass(frozen=True)
class Scenario:
    """One declared load. ``kind``: closed (each connection sends its next request when the last
    is answered) or open (requests at scheduled Poisson times). ``work``: what is asked.
    Exactly one of ``duration_s`` and ``count`` bounds it; ``warmup_s`` / ``warmup_count`` are
    sent first and not counted. ``sessions`` are made before the clock starts, each by an upload
    (``setup="upload"``) or forked at turn 2 from one upload per film (``"fork"``: no encoder
    call, for the quick run). Open loops: ``connections`` 0, as many keep-alive connections as
    requests outstanding; ``rate_per_s`` None, decided at run time (see ``--rate``)."""

    name: str
    kind: str
    work: str
    connections: int = 1
    sessions: int = 0
    duration_s: float | None = None
    count: int | None = None
    warmup_s: float = 0.0
    warmup_count: int = 0
    rate_per_s: float | None = None
    upload_fraction: float = 0.0
    setup: str = "upload"
    probe_turns: tuple[int, int] = (2, 200)
    probe_halfwidth: int = 7  # a window of 15 turns holds each of the 14 questions at least once
    seed: int = 0
    films: str = "examples"  # FILM_SETS: the example films, or films read by the second reader alone

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.work not in WORKS or self.setup not in SETUPS or self.films not in FILM_SETS:
            raise ValueError(f"{self.name}: kind in {KINDS}, work in {WORKS}, setup in {SETUPS}, films in {FILM_SETS}")
        if (self.duration_s is None) == (self.count is None):
            raise ValueError(f"{self.name}: exactly one of duration_s and count")
        if self.connections < (1 if self.kind == "closed" else 0) or self.sessions < 0 or self.warmup_s < 0 or self.warmup_count < 0:
            raise ValueError(f"{self.name}: connections >= 1, sessions, warm-up >= 0")
        if (self.duration_s is not None and self.duration_s <= self.warmup_s) or (self.count or 1) < 1:
            raise ValueError(f"{self.name}: the run must be longer than its warm-up")
        if self.rate_per_s is not None and self.rate_per_s <= 0 or not 0 <= self.upload_fraction <= 1:
            raise ValueError(f"{self.name}: rate > 0 and 0 <= upload_fraction <= 1")


SCENARIOS = (
    Scenario("first_turn", "closed", "first_turn", count=30, warmup_count=3),
    Scenario("first_turn_read_alone", "closed", "first_turn", count=30, warmup_count=3, films="read_alone"),
    Scenario("followups_closed_64", "closed", "followups", connections=64, sessions=64, duration_s=20.0,
             warmup_s=2.0),
    Scenario("followups_closed_4", "closed", "followups", connections=4, sessions=4, duration_s=20.0,
             warmup_s=2.0),
    Scenario("poisson_mixed", "open", "followups", connections=0, sessions=64, duration_s=20.0, warmup_s=2.0,
             upload_fraction=0.005),
    Scenario("long_session", "closed", "long_session", sessions=1, count=220),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def shaped(s: Scenario, duration_s: float | None = None, quick: bool = False) -> Scenario:
    """The declared scenario with the run's duration, or its seconds-long quick form."""
    if quick:
        short = {"first_turn": {"count": 3, "warmup_count": 1}, "first_turn_read_alone": {"count": 3, "warmup_count": 1},
                 "long_session": {"count": 40, "probe_turns": (2, 32), "probe_halfwidth": 3}}
        changes: dict[str, Any] = short.get(s.name, {})
        if s.duration_s is not None:
            changes = {"duration_s": 1.5, "warmup_s": 0.3, "upload_fraction": 0.02 if s.upload_fraction else 0.0}
        if s.sessions > len(FILMS):
            changes["setup"] = "fork"
        return replace(s, **changes)
    if duration_s is not None and s.duration_s is not None:
        return replace(s, duration_s=duration_s, warmup_s=min(s.warmup_s, duration_s / 4))
    return s


# --- the open loop's schedule -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrival:
    at: float  # seconds from the start of the scenario
    kind: str  # "turn" or "upload"


def poisson_schedule(rate: float, seconds: float, seed: int, upload_fraction: float = 0.0) -> list[Arrival]:
    """Poisson arrivals of ``rate``/s on [0, seconds) (exponential gaps from ``random.Random(seed)``);
    every ``round(1 / upload_fraction)``-th arrival is an upload (the first halfway through the
    first such stretch), the others follow-ups: the mix is exact, the times are random."""
    if rate <= 0 or seconds <= 0 or not 0 <= upload_fraction <= 1:
        raise ValueError("rate and seconds must be positive, upload_fraction in 0..1")
    every = round(1 / upload_fraction) if upload_fraction > 0 else 0
    rng = random.Random(seed)
    out: list[Arrival] = []
    t = rng.expovariate(rate)
    while t < seconds:
        upload = every > 0 and len(out) % every == every // 2
        out.append(Arrival(t, "upload" if upload else "turn"))
        t += rng.expovariate(rate)
    return out


# --- statistics ---------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's
    default); NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q is in 0..100")
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_summary_ms(latencies_s: Sequence[float]) -> dict[str, float | None]:
    def ms(v: float) -> float | None:
        return None if math.isnan(v) else round(v * 1000.0, 3)

    return {"p50_ms": ms(percentile(latencies_s, 50)), "p90_ms": ms(percentile(latencies_s, 90)),
            "p99_ms": ms(percentile(latencies_s, 99)),
            "max_ms": ms(max(latencies_s)) if latencies_s else None}


# --- HTTP/1.1 keep-alive over asyncio streams ---------------------------------------------------------------
class Connection:
    """One keep-alive HTTP/1.1 connection (h11 over asyncio streams), reopened after a close."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11 = h11.Connection(h11.CLIENT)
        self.opened = 0

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._h11 = h11.Connection(h11.CLIENT)
        self.opened += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, method: str, target: str, body: bytes = b"",
                      content_type: str | None = None) -> tuple[int, bytes]:
        """(status, body); raises OSError/h11 errors on a broken connection (then closed)."""
        if self._writer is None:
            await self._open()
        try:
            return await self._roundtrip(method, target, body, content_type)
        except BaseException:
            self.close()
            raise

    async def _roundtrip(self, method: str, target: str, body: bytes, content_type: str | None) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        conn = self._h11
        headers = [("Host", f"{self.host}:{self.port}"), ("Content-Length", str(len(body)))]
        if content_type:
            headers.append(("Content-Type", content_type))
        out = conn.send(h11.Request(method=method, target=target, headers=headers))
        if body:
            out += conn.send(h11.Data(data=body))
        self._writer.write(out + conn.send(h11.EndOfMessage()))
        await self._writer.drain()
        status, chunks = 0, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await self._reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the server closed the connection mid-response")
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            self.close()
        return status, b"".join(chunks)


@functools.cache
def film_set(name: str) -> tuple[tuple[str, bytes], ...]:
    """(file name, DICOM bytes) of the films a scenario uploads (``FILM_SETS``)."""
    if name == "examples":
        return tuple((n, (EXAMPLES / n).read_bytes()) for n in FILMS)
    from encoder.phantom import CaseSpec, generate_case

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in READ_ALONE_SEEDS:
            folder = Path(tmp) / str(seed)
            generate_case(seed, CaseSpec(render="scatter")).write(folder)
            out.append((f"phantom-{seed}-scatter.dcm", (folder / "image.dcm").read_bytes()))
    return tuple(out)


def multipart(film: bytes, filename: str, lang: str) -> tuple[bytes, str]:
    boundary = "hilum-turns-load-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"lang\"\r\n\r\n{lang}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/dicom\r\n\r\n").encode() + film + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- one request, one record --------------------------------------------------------------------------------
@dataclass
class Record:
    """One request. Times are seconds on the scenario's clock (``time.perf_counter`` from its
    start); ``scheduled`` is when it was due (closed loop: when it was sent)."""

    kind: str  # "upload", "turn" or "dropped"
    session: str
    scheduled: float
    sent: float
    done: float
    status: int = 0  # 0: no HTTP answer (connection error, or none within REQUEST_TIMEOUT_S)
    turn: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    measured: bool = True
    read_alone: bool = False  # an upload the second reader read alone (its answer's film check says so)

    @property
    def latency(self) -> float:
        return self.done - self.scheduled

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)


class Client:
    """The requests this load test sends, against ``host:port``; ``t0`` is the scenario clock's zero."""

    def __init__(self, host: str, port: int, films: str = "examples") -> None:
        self.host, self.port = host, port
        named = film_set(films)
        self.films = [(name, *multipart(data, name, "en")) for name, data in named]
        self.films_zh = [(name, *multipart(data, name, "zh")) for name, data in named]
        self.t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def connection(self) -> Connection:
        return Connection(self.host, self.port)

    async def _send(self, conn: Connection, rec: Record, method: str, target: str, body: bytes,
                    ctype: str | None) -> dict[str, Any] | None:
        rec.sent = self.now()
        try:
            rec.status, raw = await asyncio.wait_for(conn.request(method, target, body, ctype), REQUEST_TIMEOUT_S)
        except (TimeoutError, OSError, h11.ProtocolError, asyncio.IncompleteReadError):
            rec.done = self.now()
            return None
        rec.done = self.now()
        return json.loads(raw) if rec.ok else None

    async def upload(self, conn: Connection, i: int, scheduled: float | None = None) -> Record:
        name, body, ctype = (self.films if i % 2 == 0 else self.films_zh)[i % len(self.films)]
        rec = Record("upload", "", scheduled if scheduled is not None else self.now(), 0.0, 0.0)
        doc = await self._send(conn, rec, "POST", "/v1/sessions", body, ctype)
        if doc is not None:
            rec.session, first = doc["session_id"], doc["turns"][0]
            rec.turn, rec.timings = first["turn"], first.get("timings") or {}
            rec.read_alone = READ_ALONE in ((first.get("film_check") or {}).get("warnings") or ())
        return rec

    async def ask(self, conn: Connection, session: str, question: str, scheduled: float | None = None) -> Record:
        rec = Record("turn", session, scheduled if scheduled is not None else self.now(), 0.0, 0.0)
        body = json.dumps({"question": question}, ensure_ascii=False).encode()
        doc = await self._send(conn, rec, "POST", f"/v1/sessions/{session}/turns", body, "application/json")
        if doc is not None:
            rec.turn, rec.timings = doc["turn"], doc.get("timings") or {}
        return rec

    async def fork(self, conn: Connection, session: str, question: str) -> str:
        body = json.dumps({"turn": 2, "question": question}, ensure_ascii=False).encode()
        status, raw = await conn.request("POST", f"/v1/sessions/{session}/fork", body, "application/json")
        if status != 201:
            raise RuntimeError(f"fork: HTTP {status}: {raw[:200]!r}")
        return json.loads(raw)["session_id"]


@dataclass
class Live:
    """A session being driven: its id, its last turn so far, where it is in ``QUESTIONS``."""

    id: str
    last_turn: int
    offset: int
    busy: bool = False

    def next_question(self) -> str:
        return QUESTIONS[(self.offset + self.last_turn) % len(QUESTIONS)]


async def make_sessions(client: Client, n: int, setup: str, bases: list[str] | None = None) -> list[Live]:
    """``n`` sessions, before the clock starts: each an upload, or forked at turn 2 from one upload
    per film (no encoder call; those uploads are kept in ``bases`` for the next scenario). Two
    uploads at a time (the server's two cores)."""
    conns = [client.connection(), client.connection()]

    async def uploaded(i: int, conn: Connection) -> Live:
        rec = await client.upload(conn, i)
        if not rec.ok:
            raise RuntimeError(f"session setup: upload answered HTTP {rec.status}")
        return Live(rec.session, 1, offset=(5 * i) % len(QUESTIONS))

    async def lane(idx: Iterable[int], conn: Connection) -> list[Live]:
        return [await uploaded(i, conn) for i in idx]

    if setup == "upload" or n <= len(FILMS):
        lanes = await asyncio.gather(*(lane(range(k, n, 2), conns[k]) for k in range(2)))
        out = [live for pair in zip(*lanes, strict=False) for live in pair]
        out += lanes[0][len(lanes[1]):]
    else:
        bases = [] if bases is None else bases
        if not bases:
            for b in await lane(range(len(FILMS)), conns[0]):
                rec = await client.ask(conns[0], b.id, b.next_question())
                if not rec.ok:
                    raise RuntimeError(f"session setup: turn 2 answered HTTP {rec.status}")
                bases.append(b.id)
        out = [Live(await client.fork(conns[i % 2], bases[i % len(bases)], QUESTIONS[i % len(QUESTIONS)]),
                    2, offset=(5 * i) % len(QUESTIONS)) for i in range(n)]
    for c in conns:
        c.close()
    return out[:n]


async def connection_probe(client: Client, n: int = 10) -> dict[str, Any]:
    """Median ms of ``GET /healthz``: ``n`` on one keep-alive connection (after its first) and ``n``
    each on a fresh connection (connect included). A gap between them is the HTTP layer's cost of
    reusing a connection (e.g. a Nagle / delayed-ACK stall), apart from any work on a turn."""

    async def timed(conn: Connection) -> float:
        t = time.perf_counter()
        status, _ = await conn.request("GET", "/healthz")
        if status != 200:
            raise RuntimeError(f"/healthz answered HTTP {status}")
        return (time.perf_counter() - t) * 1000.0

    keep = client.connection()
    await timed(keep)
    reused = [await timed(keep) for _ in range(n)]
    keep.close()
    fresh = []
    for _ in range(n):
        conn = client.connection()
        fresh.append(await timed(conn))
        conn.close()
    return {"healthz_keepalive_median_ms": round(percentile(reused, 50), 3),
            "healthz_fresh_connection_median_ms": round(percentile(fresh, 50), 3), "requests_each": n}


# --- the loops ----------------------------------------------------------------------------------------------
async def closed_followups(client: Client, sessions: list[Live], s: Scenario) -> list[Record]:
    """Connection i asks on session i, its next question as soon as the last answer is back."""
    start = client.now()
    end = start + (s.duration_s or 0.0)
    records: list[Record] = []

    async def worker(live: Live) -> None:
        conn = client.connection()
        sent = 0
        while (client.now() < end) if s.duration_s is not None else sent < (s.count or 0):
            rec = await client.ask(conn, live.id, live.next_question())
            rec.measured = (rec.sent - start >= s.warmup_s) and sent >= s.warmup_count
            sent += 1
            records.append(rec)
            if rec.ok and rec.turn is not None:
                live.last_turn = rec.turn
        conn.close()

    await asyncio.gather(*(worker(sessions[i % len(sessions)]) for i in range(s.connections)))
    return records


async def closed_uploads(client: Client, s: Scenario) -> list[Record]:
    conn = client.connection()
    records = []
    for i in range(s.warmup_count + (s.count or 0)):
        rec = await client.upload(conn, i)
        rec.measured = i >= s.warmup_count
        records.append(rec)
    conn.close()
    return records


class OpenLoop:
    """Sends each arrival at its time on an idle keep-alive connection (a new one if none is idle),
    never waiting for earlier answers; follow-ups go to the next idle session in rotation."""

    def __init__(self, client: Client, sessions: list[Live], max_in_flight: int, warmup_s: float) -> None:
        self.client, self.sessions = client, sessions
        self.max_in_flight, self.warmup_s = max_in_flight, warmup_s
        self.idle: list[Connection] = []
        self.in_flight = 0
        self.next_session = 0
        self.uploads = 0
        self.records: list[Record] = []

    def _pick(self) -> Live | None:
        for k in range(len(self.sessions)):
            live = self.sessions[(self.next_session + k) % len(self.sessions)]
            if not live.busy:
                self.next_session = (self.next_session + k + 1) % len(self.sessions)
                return live
        return None

    async def _one(self, arrival: Arrival, due: float, live: Live | None) -> None:
        conn = self.idle.pop() if self.idle else self.client.connection()
        try:
            if live is None:
                self.uploads += 1
                rec = await self.client.upload(conn, self.uploads, scheduled=due)
            else:
                rec = await self.client.ask(conn, live.id, live.next_question(), scheduled=due)
                if rec.ok and rec.turn is not None:
                    live.last_turn = rec.turn
        finally:
            self.in_flight -= 1
            if live is not None:
                live.busy = False
            self.idle.append(conn)
        rec.measured = arrival.at >= self.warmup_s
        self.records.append(rec)

    async def run(self, schedule: Sequence[Arrival]) -> list[Record]:
        start = self.client.now()
        tasks = []
        for arrival in schedule:
            due = start + arrival.at
            wait = due - self.client.now()
            if wait > 0:
                await asyncio.sleep(wait)
            live = self._pick() if arrival.kind == "turn" else None
            if self.in_flight >= self.max_in_flight or (arrival.kind == "turn" and live is None):
                now = self.client.now()
                self.records.append(Record("dropped", "", due, now, now, measured=arrival.at >= self.warmup_s))
                continue
            self.in_flight += 1
            if live is not None:
                live.busy = True
            tasks.append(asyncio.ensure_future(self._one(arrival, due, live)))
        await asyncio.gather(*tasks)
        for conn in self.idle:
            conn.close()
        return self.records


# --- summaries ----------------------------------------------------------------------------------------------
def turn_order_violations(records: Iterable[Record], first_turn: dict[str, int]) -> int:
    """Answered turns whose number is not the session's previous turn + 1 (in the order sent)."""
    last = dict(first_turn)
    bad = 0
    for rec in sorted((r for r in records if r.kind == "turn" and r.ok), key=lambda r: r.sent):
        expected = last.get(rec.session, 0) + 1
        bad += rec.turn != expected
        last[rec.session] = rec.turn if rec.turn is not None else expected
    return bad


def stage_means_ms(records: Iterable[Record]) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    for rec in records:
        for stage, seconds in rec.timings.items():
            sums[stage] += float(seconds)
            counts[stage] += 1
    return {stage: round(sums[stage] * 1000.0 / counts[stage], 3) for stage in sums}


def kind_summary(records: Sequence[Record]) -> dict[str, Any]:
    """Count, errors by status ("0": no answer), 429s, throughput over the span from the first
    scheduled to the last answer, latency percentiles of the answered ones, mean stage ms."""
    ok = [r for r in records if r.ok]
    span = (max(r.done for r in records) - min(r.scheduled for r in records)) if records else 0.0
    errors = Counter(str(r.status) for r in records if not r.ok)
    return {"count": len(records), "ok": len(ok), "errors_by_status": dict(errors),
            "http_429": errors.get("429", 0), "span_s": round(span, 3),
            "throughput_per_s": round(len(ok) / span, 2) if span > 0 else None,
            **latency_summary_ms([r.latency for r in ok]), "stage_mean_ms": stage_means_ms(ok)}


def probe_medians(records: Sequence[Record], probe_turns: tuple[int, int], halfwidth: int) -> dict[str, Any]:
    by_turn = {r.turn: r.latency for r in records if r.kind == "turn" and r.ok and r.turn is not None}

    first = min(by_turn, default=0)

    def around(t: int, q: float) -> float:
        # 2 * halfwidth + 1 turns centred on t, shifted right where the session starts later
        lo = max(t - halfwidth, first)
        xs = [v for k, v in by_turn.items() if lo <= k <= lo + 2 * halfwidth]
        return percentile(xs, q)

    def over(late: float, early: float) -> float | None:
        return None if math.isnan(late) or not early > 0 else round(late / early, 3)

    early, late = around(probe_turns[0], 50), around(probe_turns[1], 50)
    # the slowest turn of each window too: one kind of question whose cost grows with the session
    # (an elliptical follow-up that once read the whole log) hides under the medians
    early_max, late_max = around(probe_turns[0], 100), around(probe_turns[1], 100)
    return {"probe_turns": list(probe_turns), "window": f"{2 * halfwidth + 1} turns from turn - {halfwidth} (or the first)",
            "early_median_ms": round(early * 1000.0, 3), "late_median_ms": round(late * 1000.0, 3),
            "late_over_early": over(late, early),
            "early_slowest_ms": round(early_max * 1000.0, 3), "late_slowest_ms": round(late_max * 1000.0, 3),
            "slowest_late_over_early": over(late_max, early_max)}


def summarize(s: Scenario, records: Sequence[Record], first_turn: dict[str, int], cpu: dict[str, Any]) -> dict[str, Any]:
    measured = [r for r in records if r.measured]
    out: dict[str, Any] = {"declared": asdict(s), "requests_including_warmup": len(records)}
    for kind in ("turn", "upload"):
        rows = [r for r in measured if r.kind == kind]
        if rows:
            out[f"{kind}s"] = kind_summary(rows)
    if "uploads" in out:
        out["uploads"]["read_alone"] = sum(r.read_alone for r in measured if r.kind == "upload")
    dropped = [r for r in measured if r.kind == "dropped"]
    if s.kind == "open":
        sent = [r for r in measured if r.kind != "dropped"]
        out["open_loop"] = {"scheduled": len(measured), "dropped": len(dropped),
                            "late": sum(r.sent - r.scheduled > LATE_S for r in sent),
                            "late_threshold_ms": LATE_S * 1000.0,
                            "send_lag_p99_ms": round(percentile([r.sent - r.scheduled for r in sent], 99) * 1000, 3)
                            if sent else None}
    out["turn_order_violations"] = turn_order_violations(records, first_turn)
    if s.work == "long_session":
        out["long_session"] = probe_medians(records, s.probe_turns, s.probe_halfwidth)
    out["cpu"] = cpu
    return out


# --- the system under test ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    pid: int | None
    env: dict[str, str]
    log: Path | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        m = re.match(r"^http://([^/:]+):(\d+)/?$", self.url)
        if not m:
            raise ValueError(f"--url must be http://HOST:PORT, not {self.url!r}")
        return m.group(1), int(m.group(2))


def wait_ready(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.25)
    raise TimeoutError(f"{url}/readyz not 200 within {timeout_s:.0f} s")


def server_env(pairs: list[str]) -> dict[str, str]:
    """``--server-env HILUM_X=VALUE`` pairs; only HILUM_ settings."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith("HILUM_"):
            raise SystemExit(f"--server-env takes HILUM_NAME=VALUE, not {pair!r}")
        out[key] = value
    return out


def cpu_list(text: str) -> set[int]:
    """``"0"``, ``"2-7"``, ``"0,4-5"`` -> those CPU numbers, each one this process may run on."""
    cpus: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()) or int(last or first) < int(first):
            raise ValueError(f"not a CPU list: {text!r} (e.g. 0 or 2-7 or 0,4-5)")
        cpus.update(range(int(first), int(last or first) + 1))
    allowed = os.sched_getaffinity(0)
    if not cpus or not cpus <= allowed:
        raise ValueError(f"CPUs {sorted(cpus)} are not all among this machine's {sorted(allowed)}")
    return cpus


@contextlib.contextmanager
def start_server(extra_env: dict[str, str] | None = None, log_dir: Path | None = None,
                 cpus: set[int] | None = None) -> Iterator[Server]:
    """``python -m orchestrator.cli serve`` on free loopback ports with ``SERVER_ENV`` (and
    ``extra_env``), on ``cpus`` if given (its worker processes inherit them), ready when ``/readyz``
    answers 200; stopped (SIGTERM, then SIGKILL) on exit."""
    env = {**os.environ, **SERVER_ENV, **(extra_env or {})}
    port, grpc_port = free_port(), free_port()
    with contextlib.ExitStack() as stack:
        folder = log_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hilum-turns-")))
        log = folder / "turns-server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "orchestrator.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--grpc-port", str(grpc_port)], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, READY_TIMEOUT_S, proc)
            yield Server(url, proc.pid, {k: v for k, v in env.items() if k.startswith("HILUM_")}, log)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- running the scenarios ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    scenario: Scenario
    records: list[Record]
    first_turn: dict[str, int]  # session -> its last turn before the clock started
    summary: dict[str, Any]


@dataclass
class Options:
    rate: float | None = None  # poisson_mixed: arrivals/s; None: half the closed-64 capacity, else fallback
    fallback_rate: float = 200.0
    upload_fraction: float | None = None
    max_in_flight: int = 256
    seed: int = 0
    capacity: float | None = None  # filled in by followups_closed_64
    bases: list[str] = field(default_factory=list)  # sessions at turn 2 that "fork" setups fork from


def open_rate(s: Scenario, opts: Options) -> tuple[float, str]:
    if opts.rate is not None:
        return opts.rate, "--rate"
    if s.rate_per_s is not None:
        return s.rate_per_s, "declared"
    if opts.capacity:
        return round(opts.capacity / 2, 1), "half the followups_closed_64 capacity measured in this run"
    return opts.fallback_rate, "--fallback-rate (followups_closed_64 did not run)"


class CpuMeter:
    """Client (this process), server (its process tree) and machine CPU between ``start`` and ``stop``."""

    def __init__(self, server_pid: int | None) -> None:
        self.pid = server_pid
        self.marks: dict[str, Any] = {}

    def start(self) -> None:
        self.marks = {"jiffies": machine_jiffies(), "client": time.process_time(),
                      "server": process_tree_cpu_s(self.pid), "wall": time.perf_counter()}

    def stop(self, requests: int) -> dict[str, Any]:
        client_s = time.process_time() - self.marks["client"]
        server_s = process_tree_cpu_s(self.pid) - self.marks["server"]
        share = MachineShare.between(self.marks["jiffies"], machine_jiffies(), client_s + server_s)
        n = max(1, requests)
        both = client_s + server_s
        return {"note": "from the end of session setup to the last answer (warm-up included), per request sent",
                "wall_s": round(time.perf_counter() - self.marks["wall"], 2), "requests": requests,
                "client_cpu_s": round(client_s, 3), "client_cpu_ms_per_request": round(client_s * 1000 / n, 3),
                "server_cpu_s": round(server_s, 3) if self.pid else None,
                "server_cpu_ms_per_request": round(server_s * 1000 / n, 3) if self.pid else None,
                "client_share_of_client_plus_server": round(client_s / both, 3) if self.pid and both > 0 else None,
                "machine_percent": asdict(share), "loadavg_after": [round(x, 2) for x in os.getloadavg()]}


async def drive(client: Client, s: Scenario, opts: Options,
                meter: CpuMeter) -> tuple[Scenario, list[Record], dict[str, int], str]:
    """Makes the scenario's sessions, starts ``meter``, runs the load; (the scenario as run, its
    records, each session's last turn before the clock started, where the open rate came from)."""
    sessions = await make_sessions(client, s.sessions, s.setup, opts.bases) if s.sessions else []
    first = {live.id: live.last_turn for live in sessions}
    meter.start()
    if s.work == "first_turn":
        return s, await closed_uploads(client, s), first, ""
    if s.kind == "closed":
        return s, await closed_followups(client, sessions, s), first, ""
    rate, source = open_rate(s, opts)
    fraction = opts.upload_fraction if opts.upload_fraction is not None else s.upload_fraction
    s = replace(s, rate_per_s=rate, upload_fraction=fraction)
    schedule = poisson_schedule(rate, s.duration_s or 0.0, opts.seed + s.seed, fraction)
    records = await OpenLoop(client, sessions, opts.max_in_flight, s.warmup_s).run(schedule)
    for rec in records:  # the open loop's uploads make sessions of their own: turn 1
        if rec.kind == "upload" and rec.ok:
            first[rec.session] = 1
    return s, records, first, source


def run_scenario(server: Server, s: Scenario, opts: Options) -> Outcome:
    client = Client(*server.host_port, films=s.films)
    meter = CpuMeter(server.pid)
    declared, records, first, source = asyncio.run(drive(client, s, opts, meter))
    cpu = meter.stop(sum(r.kind != "dropped" for r in records))
    summary = summarize(declared, records, first, cpu)
    if declared.kind == "open":
        summary["open_loop"].update(rate_per_s=declared.rate_per_s, rate_source=source)
    if declared.name == "followups_closed_64" and "turns" in summary:
        opts.capacity = summary["turns"]["throughput_per_s"]
    return Outcome(declared, records, first, summary)


# --- the plot (PIL: the project's own imaging dependency; no matplotlib here) -----------------------------
COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127))


@dataclass(frozen=True)
class Axes:
    """A plotting rectangle; x linear or log10, y linear or log10."""

    left: int
    top: int
    width: int
    height: int
    x: tuple[float, float]
    y: tuple[float, float]
    log_x: bool = False
    log_y: bool = False

    @staticmethod
    def _frac(v: float, lim: tuple[float, float], log: bool) -> float:
        if log:
            v, lim = math.log10(max(v, 1e-9)), (math.log10(lim[0]), math.log10(lim[1]))
        return (v - lim[0]) / ((lim[1] - lim[0]) or 1.0)

    def px(self, x: float, y: float) -> tuple[float, float]:
        return (self.left + self._frac(x, self.x, self.log_x) * self.width,
                self.top + self.height - self._frac(y, self.y, self.log_y) * self.height)


def _ticks(lim: tuple[float, float], log: bool) -> list[float]:
    if log:
        return [10.0 ** k for k in range(math.floor(math.log10(lim[0])), math.ceil(math.log10(lim[1])) + 1)
                if lim[0] <= 10.0 ** k <= lim[1]]
    step = 10 ** math.floor(math.log10(max(lim[1] - lim[0], 1e-9)))
    step *= 2 if (lim[1] - lim[0]) / step < 4 else 1
    step /= 4 if (lim[1] - lim[0]) / step < 2 else 1
    return [k * step for k in range(math.ceil(lim[0] / step), math.floor(lim[1] / step) + 1)]


def _frame(draw: Any, ax: Axes, title: str, xlabel: str, ylabel: str, font: Any) -> None:
    draw.rectangle([ax.left, ax.top, ax.left + ax.width, ax.top + ax.height], outline=(0, 0, 0))
    for v in _ticks(ax.x, ax.log_x):
        x, _ = ax.px(v, ax.y[0])
        draw.line([x, ax.top, x, ax.top + ax.height], fill=(225, 225, 225))
        draw.text((x, ax.top + ax.height + 4), f"{v:g}", fill=(0, 0, 0), font=font, anchor="ma")
    for v in _ticks(ax.y, ax.log_y):
        _, y = ax.px(ax.x[0], v)
        draw.line([ax.left, y, ax.left + ax.width, y], fill=(225, 225, 225))
        draw.text((ax.left - 6, y), f"{v:g}", fill=(0, 0, 0), font=font, anchor="rm")
    draw.text((ax.left + ax.width / 2, ax.top - 10), title, fill=(0, 0, 0), font=font, anchor="md")
    draw.text((ax.left + ax.width / 2, ax.top + ax.height + 24), xlabel, fill=(0, 0, 0), font=font, anchor="ma")
    draw.text((ax.left - 56, ax.top - 10), ylabel, fill=(0, 0, 0), font=font, anchor="ld")


def plot(outcomes: Sequence[Outcome], path: Path) -> Path:
    """Latency (ms, log) over each scenario's own time, and the latency CDF, one colour per
    scenario and request kind (answered, measured requests)."""
    from PIL import Image, ImageDraw, ImageFont

    series = []
    for o in outcomes:
        for kind in ("turn", "upload"):
            rows = [r for r in o.records if r.measured and r.ok and r.kind == kind]
            if rows:
                t0 = min(r.scheduled for r in rows)
                series.append((f"{o.scenario.name} {kind}s", [(r.scheduled - t0, r.latency * 1000.0) for r in rows]))
    lat = [ms for _, pts in series for _, ms in pts] or [1.0]
    ylim = (10 ** math.floor(math.log10(max(min(lat), 1e-3))), 10 ** math.ceil(math.log10(max(max(lat), 1e-3))))
    tmax = max([t for _, pts in series for t, _ in pts] or [1.0]) or 1.0
    img = Image.new("RGB", (1500, 640 + 20 * ((len(series) + 1) // 2)), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    left = Axes(90, 50, 600, 500, (0.0, tmax), ylim, log_y=True)
    right = Axes(840, 50, 600, 500, ylim, (0.0, 1.0), log_x=True)
    _frame(draw, left, "latency over time (each scenario from its own start)", "seconds", "ms", font)
    _frame(draw, right, "CDF of latency", "ms", "share", font)
    for k, (name, pts) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        r = 2.0 if len(pts) < 3000 else 1.0
        for t, ms in pts[:: max(1, len(pts) // 20000)]:
            x, y = left.px(t, ms)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
        xs = sorted(ms for _, ms in pts)
        step = max(1, len(xs) // 2000)
        line = [right.px(v, (i + 1) / len(xs)) for i, v in list(enumerate(xs))[::step] + [(len(xs) - 1, xs[-1])]]
        if len(line) > 1:
            draw.line(line, fill=color, width=2)
        lx, ly = 90 + 750 * (k % 2), 630 + 20 * (k // 2)  # the legend, under the panels
        draw.rectangle([lx, ly - 6, lx + 12, ly + 6], fill=color)
        draw.text((lx + 18, ly), f"{name}: n={len(pts)}, p50 {percentile(xs, 50):.1f} ms, "
                  f"p99 {percentile(xs, 99):.1f} ms", fill=(0, 0, 0), font=font, anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")
    return path


# --- the report ---------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
    return {"cpu_count": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem_kb / 2**20, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,  # noqa: S603,S607
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


SECRET = re.compile(r"KEY|PASSWORD|TOKEN|SECRET|SALT", re.IGNORECASE)


def server_settings(server: Server, started_here: bool) -> dict[str, Any]:
    env = {k: ("<redacted>" if SECRET.search(k) else v) for k, v in sorted(server.env.items())}
    return {"url": server.url, "started_here": started_here, "env": env,
            "note": "python -m orchestrator.cli serve, settings from HILUM_* (orchestrator/settings.py)"
            if started_here else "a running server (--url): its settings are not known here",
            "source": git_state()}


def report(outcomes: Sequence[Outcome], server: Server, started_here: bool, argv: Sequence[str],
           opts: Options, quick: bool) -> dict[str, Any]:
    return {"command": shlex.join([Path(sys.executable).name, "-m", "loadtests.turns", *argv]),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "quick": quick,
            "machine": machine(), "server": server_settings(server, started_here),
            "client": {"http": f"asyncio streams + h11 {h11.__version__}, keep-alive HTTP/1.1, one event loop",
                       "max_in_flight": opts.max_in_flight, "seed": opts.seed,
                       "questions": list(QUESTIONS), "films": list(FILMS)},
            "scenarios": {o.scenario.name: o.summary for o in outcomes}}


def headline(o: Outcome) -> str:
    s = o.summary
    part = s.get("turns") or s.get("uploads") or {}
    text = (f"{o.scenario.name}: n={part.get('count')} ok={part.get('ok')} errors={part.get('errors_by_status')} "
            f"{part.get('throughput_per_s')}/s p50={part.get('p50_ms')} p99={part.get('p99_ms')} "
            f"max={part.get('max_ms')} ms; client CPU {s['cpu']['client_cpu_ms_per_request']} ms/req")
    if "open_loop" in s:
        ol = s["open_loop"]
        text += f"; rate {ol['rate_per_s']}/s late={ol['late']} dropped={ol['dropped']}"
    if "long_session" in s:
        text += (f"; turn {s['long_session']['probe_turns']} ratio={s['long_session']['late_over_early']}"
                 f" slowest ratio={s['long_session']['slowest_late_over_early']}")
    return text


# --- the command line ---------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.turns", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(BY_NAME), help="comma separated, in this order")
    parser.add_argument("--duration-s", type=float, default=None, help="each duration-bound scenario (default 20)")
    parser.add_argument("--rate", type=float, default=None, help="poisson_mixed arrivals/s (default: half the "
                        "followups_closed_64 capacity of this run, else --fallback-rate)")
    parser.add_argument("--fallback-rate", type=float, default=200.0)
    parser.add_argument("--upload-fraction", type=float, default=None,
                        help=f"poisson_mixed: share of arrivals that upload a new film "
                        f"(default {BY_NAME['poisson_mixed'].upload_fraction})")
    parser.add_argument("--max-in-flight", type=int, default=256, help="open loop: outstanding requests before drops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="drive a running server (http://HOST:PORT) instead of starting one")
    parser.add_argument("--server-env", action="append", default=[], metavar="HILUM_X=VALUE",
                        help="a setting for the server this script starts, over SERVER_ENV (repeatable), "
                             "e.g. HILUM_ANALYSIS_PROCESSES=1")
    parser.add_argument("--server-cpus", type=cpu_list, default=None, metavar="LIST",
                        help="run the server this script starts (and its analysis workers) on these CPUs, e.g. 2-7")
    parser.add_argument("--client-cpus", type=cpu_list, default=None, metavar="LIST",
                        help="run this load generator on these CPUs, e.g. 0-1 (apart from the server's)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "loadtests" / "results")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run of the same scenarios")
    args = parser.parse_args(argv)
    unknown = [n for n in args.scenarios.split(",") if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {list(BY_NAME)}")
    return args


def run_all(server: Server, scenarios: Sequence[Scenario], opts: Options) -> list[Outcome]:
    outcomes = []
    for s in scenarios:
        outcome = run_scenario(server, s, opts)
        print(headline(outcome), flush=True)
        outcomes.append(outcome)
    return outcomes


def main(argv: Sequence[str] | None = None) -> tuple[dict[str, Any], list[Outcome]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    scenarios = [shaped(BY_NAME[n], args.duration_s, args.quick) for n in args.scenarios.split(",")]
    opts = Options(rate=args.rate, fallback_rate=args.fallback_rate, upload_fraction=args.upload_fraction,
                   max_in_flight=args.max_in_flight, seed=args.seed)
    if args.client_cpus:
        os.sched_setaffinity(0, args.client_cpus)
    with contextlib.ExitStack() as stack:
        if args.url:
            server = Server(args.url.rstrip("/"), None, {})
            wait_ready(server.url, 10.0)
        else:
            server = stack.enter_context(start_server(server_env(args.server_env), cpus=args.server_cpus))
        probe = asyncio.run(connection_probe(Client(*server.host_port)))
        print(f"connection probe: {probe}", flush=True)
        outcomes = run_all(server, scenarios, opts)
        doc = report(outcomes, server, not args.url, argv, opts, args.quick)
        doc["server"]["connection_probe"] = probe
        doc["server"]["cpus"] = sorted(args.server_cpus) if args.server_cpus else "any"
        doc["client"]["cpus"] = sorted(os.sched_getaffinity(0))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "turns-results.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    plot(outcomes, args.out / "turns-latency.png")
    print(f"wrote {args.out / 'turns-results.json'} and {args.out / 'turns-latency.png'}")
    return doc, outcomes


if __name__ == "__main__":
    main()
