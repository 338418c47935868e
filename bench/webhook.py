"""Webhook benchmark: the full Twilio path against a bare FastAPI form endpoint, over loopback.

Run from the project root: `.venv/bin/python bench/webhook.py [--concurrency 16] [--requests 3000]`.
`--engine rasa` (or `both`) also measures the full path with ENGINE=rasa: the Rasa environment and model come
from the cache (`migrantinfo rasa prepare`), and `rasa run` is started beside the app for that row only.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count, cycle
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
PATH = "/webhooks/twilio"
FORM = "application/x-www-form-urlencoded"
TOKEN = "bench-auth-token-0123456789"
ACTION_TOKEN = "bench-action-token-0123456789"  # Rasa's calls to the app's custom action
FIXED_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hola. Escribe MENU.</Message></Response>'
# Every virtual sender walks this script: five SMS, then the same person writes on WhatsApp.
SCRIPT = (("sms", "ASILO MX"), ("sms", "hola"), ("sms", "MENU"), ("sms", "1"), ("sms", "AYUDA"),
          ("whatsapp", "Hola, ¿cómo pido refugio en Costa Rica?"))
# Calling codes of the programme's people (Mexico, Guatemala, Honduras, Haiti, Venezuela), padded to length.
PREFIXES = ("+52962", "+5024", "+5043", "+5093", "+58412")
TARGET_RATIO, TARGET_P99_MS = 0.35, 25.0
FALLBACK = "fallback to the embedded engine"  # what the app logs when Rasa did not answer a message

try:  # the client is the bottleneck: give it uvloop too when uvicorn[standard] brought it
    import uvloop

    CLIENT_LOOP: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
except ImportError:
    CLIENT_LOOP = None

bare_app = FastAPI()


@bare_app.post(PATH)
async def bare_webhook(request: Request) -> Response:
    """Parse the form and answer fixed TwiML: the floor any webhook pays."""
    await request.form()
    return Response(FIXED_TWIML, media_type="application/xml")


@bare_app.get("/healthz")
async def bare_healthz() -> dict:
    return {"status": "ok"}


def twilio_form(channel: str, number: str, text: str) -> dict[str, str]:
    """An inbound form shaped like those captured in tests/fixtures/twilio, with a fresh MessageSid."""
    sid = "SM" + secrets.token_hex(16)
    common = {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received", "Body": text,
              "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
              "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01"}
    if channel == "whatsapp":
        return {"ProfileName": "Maria", "MessageType": "text", "WaId": number[1:], **common,
                "To": "whatsapp:+50640001234", "From": f"whatsapp:{number}"}
    return {"ToCountry": "MX", "ToState": "CHIS", "ToCity": "TAPACHULA", **common, "FromCountry": "MX",
            "To": "+529621234567", "From": number}


@dataclass
class Sender:
    """One virtual person: a phone number and how far through SCRIPT they are."""

    number: str
    step: int = 0

    def request(self, url: str, validator: RequestValidator) -> tuple[str, dict[str, str]]:
        channel, text = SCRIPT[self.step % len(SCRIPT)]
        self.step += 1
        params = twilio_form(channel, self.number, text)
        return urlencode(params), {"content-type": FORM,
                                   "x-twilio-signature": validator.compute_signature(url, params)}


def make_senders(concurrency: int) -> list[Sender]:
    """Fresh numbers on every run (a reused PostgreSQL database keeps old contacts), staggered in SCRIPT."""
    numbers = (p + "".join(secrets.choice("0123456789") for _ in range(12 - len(p))) for p in cycle(PREFIXES))
    return [Sender(next(numbers), step=i) for i in range(concurrency)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (the smallest value with at least p % of the values at or below it)."""
    return float(numpy.percentile(values, p, method="inverted_cdf")) if values else math.nan


async def phase(clients: list[httpx.AsyncClient], url: str, senders: list[Sender], *, pids: tuple[int, ...],
                requests: int, seconds: float | None, rate: float | None = None) -> dict:
    """Send from every sender at once (one request in flight each) and collect the figures.

    Without a rate each sender sends as fast as replies come back (the most the server does); with a rate the
    senders together offer that many requests a second, spread evenly, as people at a busy hour would.
    The server CPU is that of every process in pids (the app, and Rasa when it runs beside it).
    """
    validator = RequestValidator(TOKEN)
    if seconds:  # bodies are signed on the fly, inside the measured time
        streams = [(s.request(url, validator) for _ in count()) for s in senders]
    else:  # bodies are signed up front, so the client spends its time sending
        shares = [requests // len(senders) + (i < requests % len(senders)) for i in range(len(senders))]
        streams = [iter([s.request(url, validator) for _ in range(n)]) for s, n in zip(senders, shares, strict=True)]
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds if seconds else math.inf

    interval = len(senders) / rate if rate else 0.0
    origin = time.perf_counter()

    async def send(client: httpx.AsyncClient, stream: Iterator[tuple[str, dict[str, str]]], index: int) -> None:
        for sent, (body, headers) in enumerate(stream):
            if time.perf_counter() >= deadline:
                return
            if interval:  # a fixed schedule per sender, the senders staggered over one interval
                await asyncio.sleep(max(0.0, origin + (sent + index / len(senders)) * interval - time.perf_counter()))
            start = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
                if response.status_code != 200 or "<Response>" not in response.text:
                    errors.append(f"HTTP {response.status_code}: {response.text[:120]!r}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - start)

    server_cpu, client_cpu, started = sum(map(cpu_seconds, pids)), time.process_time(), time.perf_counter()
    await asyncio.gather(*(send(client, stream, i) for i, (client, stream) in
                           enumerate(zip(clients, streams, strict=True))))
    elapsed = time.perf_counter() - started
    server_cpu, client_cpu = sum(map(cpu_seconds, pids)) - server_cpu, time.process_time() - client_cpu
    latencies.sort()
    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "seconds": round(elapsed, 3), "throughput": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": (latencies[-1] if latencies else math.nan) * 1000,
            "server_cpu_ms_per_request": server_cpu * 1000 / max(1, len(latencies)),
            "client_cpu_percent": client_cpu / elapsed * 100}


async def measure(base: str, pids: tuple[int, ...], args: argparse.Namespace, *, requests: int,
                  seconds: float | None, rate: float, paced_requests: int) -> dict:
    """Warm up, then measure one server flat out and paced."""
    senders = make_senders(args.concurrency)
    # One keep-alive connection per sender: a shared 16-connection pool costs the client twice the CPU.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=30, trust_env=False))
                   for _ in senders]
        await phase(clients, base + PATH, senders, pids=pids, requests=args.warmup, seconds=None)
        figures = await phase(clients, base + PATH, senders, pids=pids, requests=requests, seconds=seconds)
        figures["paced"] = await phase(clients, base + PATH, senders, pids=pids, requests=paced_requests,
                                       seconds=None, rate=rate)
        return figures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(target: list[str], *, port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """One uvicorn worker on 127.0.0.1, ready when /healthz answers, stopped when the block ends."""
    command = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{' '.join(target)} did not start on port {port}:\n{tail}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def engine_messages(database_url: str) -> Counter:
    """Inbound messages logged so far, by the engine that understood them ("keywords": none did)."""
    from sqlalchemy import text

    from app.storage.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT engine, COUNT(*) FROM messages WHERE direction = 'in' GROUP BY engine"))
            return Counter({str(name): int(n) for name, n in rows})
    finally:
        engine.dispose()


def _children() -> set[int]:
    """The pids of this process's children (Linux /proc; empty elsewhere)."""
    pids: set[int] = set()
    for path in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(pid) for pid in path.read_text().split())
    return pids


def _reap(pid: int) -> None:
    """Stop a child whose Popen object is out of reach: SIGTERM, up to 20 s, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(0.1)


@contextlib.contextmanager
def rasa_server(model: Path, *, port: int, action_url: str, action_token: str, log: Path) -> Iterator[subprocess.Popen]:
    """`rasa run` with its model loaded, stopped when the block ends, whatever ends it."""
    from app.understanding.rasa_setup import RasaSetupError, start_server, stop_server

    before = _children()
    try:
        process = start_server(model, port=port, action_url=action_url, action_token=action_token, log=log)
    except BaseException as exc:
        # start_server hands back no process when interrupted (Ctrl-C) while the model loads: stop it here.
        for pid in _children() - before:
            with contextlib.suppress(OSError):
                if b"rasa" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    _reap(pid)
        if isinstance(exc, RasaSetupError):
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SystemExit(f"Rasa did not start on port {port}: {exc}\n{tail}") from None
        raise
    try:
        yield process
    finally:
        stop_server(process)


def run(name: str, args: argparse.Namespace, tmp: Path, model: Path | None = None) -> dict:
    """Start one server (and Rasa beside it for the "rasa" row), measure it, stop them."""
    port = free_port()  # first: Rasa calls the app's action endpoint on it
    base = f"http://127.0.0.1:{port}"
    database_url = args.database_url or f"sqlite:///{tmp / f'bench-{name}.db'}"
    amounts = dict(requests=args.requests, seconds=args.seconds, rate=args.rate, paced_requests=args.paced_requests)
    if name == "bare":
        target, env = ["bench.webhook:bare_app"], {}
    else:
        target = ["app.main:create_app", "--factory"]
        env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN,
               "HASH_SECRET": "bench-hash-secret-0123456789", "PUBLIC_BASE_URL": base, "LOG_LEVEL": "WARNING",
               "ENVIRONMENT": "development", "FLOOD_MAX_REPLIES": "100000", "ENGINE": "embedded"}
    log = tmp / f"{name}.log"
    with contextlib.ExitStack() as stack:
        pids: tuple[int, ...] = ()
        if name == "rasa":
            assert model is not None
            rasa_port = free_port()
            rasa = stack.enter_context(rasa_server(model, port=rasa_port, action_url=f"{base}/rasa/webhook",
                                                   action_token=ACTION_TOKEN,
                                                   log=tmp / "rasa-server.log"))
            pids = (rasa.pid,)
            env.update(ENGINE="rasa", RASA_URL=f"http://127.0.0.1:{rasa_port}", RASA_TIMEOUT_SECONDS="10",
                       RASA_ACTION_TOKEN=ACTION_TOKEN)
            amounts = dict(requests=args.rasa_requests, seconds=None, rate=args.rasa_rate,
                           paced_requests=args.rasa_paced_requests)
        process = stack.enter_context(serve(target, port=port, env=env, log=log))
        before = engine_messages(database_url) if name != "bare" else Counter()
        with asyncio.Runner(loop_factory=CLIENT_LOOP) as runner:
            figures = runner.run(measure(base, (process.pid, *pids), args, **amounts))
        if name != "bare":  # warm-up included: the share of the mix is what matters
            figures["engine_messages"] = dict(engine_messages(database_url) - before)
    figures["amounts"] = amounts
    # A failed reply still answers 200 with an apology: only the server log tells.
    lines = log.read_text(errors="replace").splitlines()
    figures["server_errors"] = sum(" ERROR " in line or " CRITICAL " in line for line in lines)
    if name == "rasa":
        figures["fallbacks"] = sum(FALLBACK in line for line in lines)
    if lines:
        print(f"--- last lines of the {name} server log ---", *lines[-5:], sep="\n", file=sys.stderr)
    return figures


def row(label: str, r: dict, width: int) -> str:
    return (f"{label:{width}} {r['requests']:8} {r['errors']:6} {r['throughput']:8.1f} {r['p50_ms']:7.1f} "
            f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['server_cpu_ms_per_request']:14.2f} "
            f"{r['client_cpu_percent']:9.0f}%")


def report(results: dict, labels: dict[str, str], args: argparse.Namespace) -> dict:
    """Print the table and the targets; return everything for --json."""
    amount = f"{args.seconds:g} s" if args.seconds else f"{args.requests} requests"
    rasa = results.get("rasa")
    extra = f" ({args.rasa_requests} for the Rasa row)" if rasa else ""
    print(f"\nwebhook benchmark: {args.concurrency} senders, {amount}{extra} after {args.warmup} warm-up, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, one uvicorn worker each\n")
    width = max(22, *map(len, labels.values()))
    print(f"{'':{width}} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'srv cpu ms/req':>14} {'client cpu':>10}")
    for name, label in labels.items():
        print(row(label, results[name], width))
    extra = f"; the Rasa row {args.rasa_rate:g} requests/s ({args.rasa_paced_requests} requests)" if rasa else ""
    print(f"\npaced: the {args.concurrency} senders together offer {args.rate:g} requests/s "
          f"({args.paced_requests} requests){extra}")
    for name, label in labels.items():
        print(row(label, results[name]["paced"], width))
    if rasa:
        print("(the Rasa row's server CPU is the app's and Rasa's together)")
    print()
    for name, label in labels.items():
        if name == "bare":
            continue
        by_engine = results[name]["engine_messages"]
        total = sum(by_engine.values())
        understood = total - by_engine.get("keywords", 0) - by_engine.get("None", 0)
        detail = ", ".join(f"{engine} {n}" for engine, n in sorted(by_engine.items()))
        print(f"{label}: {understood} of {total} messages ({understood / max(1, total):.0%}, warm-up included) "
              f"went to an engine [{detail}]")
    if rasa:
        print(f"{labels['rasa']}: {rasa['fallbacks']} fallbacks to the embedded engine (0 in a healthy run)")

    ratio = cpu_ratio = p99 = None
    targets: dict = {"ratio": TARGET_RATIO, "p99_ms": TARGET_P99_MS}
    if "full" in results:
        ratio = results["full"]["throughput"] / results["bare"]["throughput"]
        p99 = results["full"]["paced"]["p99_ms"]
        cpu_ratio = results["bare"]["server_cpu_ms_per_request"] / results["full"]["server_cpu_ms_per_request"]
        print(f"\nfull/bare throughput: {ratio:.1%}")
        print(f"bare/full server CPU per request: {cpu_ratio:.1%} (the ratio a client that keeps up would see)")
        print(f"target: ratio >= {TARGET_RATIO:.0%}   {'PASS' if ratio >= TARGET_RATIO else 'MISS'}")
        print(f"target: p99 <= {TARGET_P99_MS:g} ms with {args.concurrency} senders at {args.rate:g} req/s   "
              f"{'PASS' if p99 <= TARGET_P99_MS else 'MISS'} ({p99:.1f} ms)")
        print(f"(flat out, every sender waiting only for its reply, p99 is {results['full']['p99_ms']:.1f} ms: "
              f"{args.concurrency} requests queue at once)")
        targets.update(ratio_met=ratio >= TARGET_RATIO, p99_met=p99 <= TARGET_P99_MS)
    else:
        print("\n(the targets are about the embedded full path: run with --engine embedded or both)")
    relative = None
    if rasa and "full" in results:
        full = results["full"]
        relative = {"throughput": rasa["throughput"] / full["throughput"], "p99": rasa["p99_ms"] / full["p99_ms"],
                    "paced_p99": rasa["paced"]["p99_ms"] / full["paced"]["p99_ms"]}
        print(f"Rasa/embedded full path: throughput {relative['throughput']:.1%} "
              f"({rasa['throughput']:.1f} vs {full['throughput']:.1f} req/s), p99 flat out "
              f"{relative['p99']:.1f}x ({rasa['p99_ms']:.1f} vs {full['p99_ms']:.1f} ms), p99 paced "
              f"{relative['paced_p99']:.1f}x ({rasa['paced']['p99_ms']:.1f} ms at {args.rasa_rate:g} req/s vs "
              f"{full['paced']['p99_ms']:.1f} ms at {args.rate:g} req/s)")
    for name, label in labels.items():
        for error in results[name]["first_errors"] + results[name]["paced"]["first_errors"]:
            print(f"error ({label}): {error}", file=sys.stderr)
        if results[name]["client_cpu_percent"] >= 90:
            print(f"note: the client used a whole core on the {label}: its req/s is a floor set by the client")
        if results[name]["server_errors"]:
            print(f"{label}: the server logged {results[name]['server_errors']} errors", file=sys.stderr)
    return {"concurrency": args.concurrency, "requests": None if args.seconds else args.requests,
            "seconds": args.seconds, "warmup": args.warmup, "cpus": os.cpu_count(), "engine": args.engine,
            "results": results, "ratio": ratio, "cpu_ratio": cpu_ratio, "targets": targets,
            "rasa_vs_embedded": relative}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent senders (default 16)")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per server (default 3000)")
    parser.add_argument("--seconds", type=float, help="measure for this long instead of a number of requests "
                        "(not the Rasa row)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first (default 200)")
    parser.add_argument("--database-url", help="run the full path on this database instead of a fresh SQLite "
                        "file (PostgreSQL: the schema is migrated into it)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="paced phase: requests per second offered by all senders together (default 100)")
    parser.add_argument("--paced-requests", type=int, default=1500, help="paced phase: requests (default 1500)")
    parser.add_argument("--engine", choices=("embedded", "rasa", "both"), default="embedded",
                        help="the engine of the full path: embedded (default), rasa (Rasa 3.6 server started "
                        "beside the app; slow to start, about a minute), or both")
    parser.add_argument("--rasa-requests", type=int, default=600,
                        help="Rasa row: measured requests flat out (default 600)")
    parser.add_argument("--rasa-rate", type=float, default=20.0,
                        help="Rasa row: paced requests per second (default 20)")
    parser.add_argument("--rasa-paced-requests", type=int, default=300,
                        help="Rasa row: paced requests (default 300)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    scheme = (args.database_url or "sqlite").split(":", 1)[0].split("+", 1)[0]
    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(scheme, scheme)
    labels = {"bare": "bare endpoint"}
    if args.engine in ("embedded", "both"):
        labels["full"] = f"full path ({engine})"
    if args.engine in ("rasa", "both"):
        labels["rasa"] = f"full path ({engine}, Rasa)"
    try:
        model = None
        if "rasa" in labels:  # before any measurement: a training (bot/ changed) would skew it
            from app.understanding.rasa_setup import RasaSetupError, ensure_model

            try:
                model = ensure_model()
            except (RasaSetupError, subprocess.CalledProcessError) as exc:
                print(f"error: Rasa cannot be prepared: {exc}", file=sys.stderr)
                return 2
            print(f"Rasa model: {model}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
            results = {name: run(name, args, Path(tmp), model) for name in labels}
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    figures = report(results, labels, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    failed = any(r["errors"] or r["paced"]["errors"] or r["server_errors"] or r.get("fallbacks")
                 for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
