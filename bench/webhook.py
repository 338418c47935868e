"""Webhook benchmark: the full Twilio path against a bare FastAPI form endpoint, over loopback.

Run from the project root: `.venv/bin/python bench/webhook.py [--concurrency 16] [--requests 3000]`.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count, cycle
from pathlib import Path
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
PATH = "/webhooks/twilio"
FORM = "application/x-www-form-urlencoded"
TOKEN = "bench-auth-token-0123456789"
FIXED_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hola. Escribe MENU.</Message></Response>'
# Every virtual sender walks this script: five SMS, then the same person writes on WhatsApp.
SCRIPT = (("sms", "ASILO MX"), ("sms", "hola"), ("sms", "MENU"), ("sms", "1"), ("sms", "AYUDA"),
          ("whatsapp", "Hola, ¿cómo pido refugio en Costa Rica?"))
# Calling codes of the programme's people (Mexico, Guatemala, Honduras, Haiti, Venezuela), padded to length.
PREFIXES = ("+52962", "+5024", "+5043", "+5093", "+58412")
TARGET_RATIO, TARGET_P99_MS = 0.35, 25.0

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


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)] if sorted_values else math.nan


async def phase(clients: list[httpx.AsyncClient], url: str, senders: list[Sender], *, pid: int, requests: int,
                seconds: float | None, rate: float | None = None) -> dict:
    """Send from every sender at once (one request in flight each) and collect the figures.

    Without a rate each sender sends as fast as replies come back (the most the server does); with a rate the
    senders together offer that many requests a second, spread evenly, as people at a busy hour would.
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

    server_cpu, client_cpu, started = cpu_seconds(pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(send(client, stream, i) for i, (client, stream) in
                           enumerate(zip(clients, streams, strict=True))))
    elapsed = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    latencies.sort()
    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "seconds": round(elapsed, 3), "throughput": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": (latencies[-1] if latencies else math.nan) * 1000,
            "server_cpu_ms_per_request": server_cpu * 1000 / max(1, len(latencies)),
            "client_cpu_percent": client_cpu / elapsed * 100}


async def measure(base: str, pid: int, args: argparse.Namespace) -> dict:
    """Warm up, then measure one server."""
    senders = make_senders(args.concurrency)
    # One keep-alive connection per sender: a shared 16-connection pool costs the client twice the CPU.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=30, trust_env=False))
                   for _ in senders]
        await phase(clients, base + PATH, senders, pid=pid, requests=args.warmup, seconds=None)
        figures = await phase(clients, base + PATH, senders, pid=pid, requests=args.requests, seconds=args.seconds)
        figures["paced"] = await phase(clients, base + PATH, senders, pid=pid, requests=args.paced_requests,
                                       seconds=None, rate=args.rate)
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


def run(name: str, args: argparse.Namespace, tmp: Path) -> dict:
    """Start one server, measure it, stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if name == "bare":
        target, env = ["bench.webhook:bare_app"], {}
    else:
        target = ["app.main:create_app", "--factory"]
        env = {"DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}", "TWILIO_AUTH_TOKEN": TOKEN,
               "HASH_SECRET": "bench-hash-secret-0123456789", "PUBLIC_BASE_URL": base, "LOG_LEVEL": "WARNING",
               "ENVIRONMENT": "development", "FLOOD_MAX_REPLIES": "100000"}
    log = tmp / f"{name}.log"
    with serve(target, port=port, env=env, log=log) as process, asyncio.Runner(loop_factory=CLIENT_LOOP) as runner:
        figures = runner.run(measure(base, process.pid, args))
    # A failed reply still answers 200 with an apology: only the server log tells.
    lines = log.read_text(errors="replace").splitlines()
    figures["server_errors"] = sum(" ERROR " in line or " CRITICAL " in line for line in lines)
    if lines:
        print(f"--- last lines of the {name} server log ---", *lines[-5:], sep="\n", file=sys.stderr)
    return figures


def report(results: dict, labels: dict[str, str], args: argparse.Namespace) -> dict:
    """Print the table and the targets; return everything for --json."""
    amount = f"{args.seconds:g} s" if args.seconds else f"{args.requests} requests"
    print(f"\nwebhook benchmark: {args.concurrency} senders, {amount} after {args.warmup} warm-up, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, one uvicorn worker each\n")
    print(f"{'':22} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'srv cpu ms/req':>14} {'client cpu':>10}")
    for name, label in labels.items():
        r = results[name]
        print(f"{label:22} {r['requests']:8} {r['errors']:6} {r['throughput']:8.1f} {r['p50_ms']:7.1f} "
              f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['server_cpu_ms_per_request']:14.2f} "
              f"{r['client_cpu_percent']:9.0f}%")
    print(f"\npaced: the {args.concurrency} senders together offer {args.rate:g} requests/s "
          f"({args.paced_requests} requests)")
    for name, label in labels.items():
        r = results[name]["paced"]
        print(f"{label:22} {r['requests']:8} {r['errors']:6} {r['throughput']:8.1f} {r['p50_ms']:7.1f} "
              f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['server_cpu_ms_per_request']:14.2f} "
              f"{r['client_cpu_percent']:9.0f}%")
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
    for name, label in labels.items():
        for error in results[name]["first_errors"]:
            print(f"error ({label}): {error}", file=sys.stderr)
        if results[name]["client_cpu_percent"] >= 90:
            print(f"note: the client used a whole core on the {label}: its req/s is a floor set by the client")
        if results[name]["server_errors"]:
            print(f"{label}: the server logged {results[name]['server_errors']} errors", file=sys.stderr)
    targets = {"ratio": TARGET_RATIO, "p99_ms": TARGET_P99_MS,
               "ratio_met": ratio >= TARGET_RATIO, "p99_met": p99 <= TARGET_P99_MS}
    return {"concurrency": args.concurrency, "requests": None if args.seconds else args.requests,
            "seconds": args.seconds, "warmup": args.warmup, "cpus": os.cpu_count(), "results": results,
            "ratio": ratio, "cpu_ratio": cpu_ratio, "targets": targets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent senders (default 16)")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per server (default 3000)")
    parser.add_argument("--seconds", type=float, help="measure for this long instead of a number of requests")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first (default 200)")
    parser.add_argument("--database-url", help="run the full path on this database instead of a fresh SQLite "
                        "file (PostgreSQL: the schema is migrated into it)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="paced phase: requests per second offered by all senders together (default 100)")
    parser.add_argument("--paced-requests", type=int, default=1500, help="paced phase: requests (default 1500)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    scheme = (args.database_url or "sqlite").split(":", 1)[0].split("+", 1)[0]
    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(scheme, scheme)
    labels = {"bare": "bare endpoint", "full": f"full path ({engine})"}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
            results = {name: run(name, args, Path(tmp)) for name in labels}
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    figures = report(results, labels, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if any(r["errors"] or r["paced"]["errors"] or r["server_errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
