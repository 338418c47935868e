"""Webhook benchmark with wrk: the full Twilio path against the bare FastAPI endpoint, over loopback.

Run from the project root: `make bench` (`.venv/bin/python bench/webhook.py [--seconds 10] [--no-postgres]`).

Rows, each server started fresh with one uvicorn worker unless said otherwise:
- bare: a FastAPI endpoint that parses the form and answers fixed TwiML (bench/bare.py), the floor;
- floors 1-4: the bare endpoint plus, one by one, the webhook's guarantees with the app's own code (signature,
  journal, thread, the claim-and-store transaction; bench/floor.py): what they cost before any understanding;
- full: the app (SQLite, embedded engine): flat out, then paced at 100 requests/s, then on to 10,000 messages;
  its resident size after start and after those messages, and its CPU while idle;
- full, 2 workers on PostgreSQL: the same, with `--workers 2`;
- `--rasa`: the app in front of a Rasa 3.6 server, free text one message at a time: the time the app adds
  around Rasa against Rasa's own.

Every request is a distinct, correctly signed Twilio body (wrk sends each once: a repeat would be a duplicate
delivery, cheaper to answer), from thousands of senders, SMS and WhatsApp, keywords and free text in six
languages, each sender going through a conversation in order.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import wrk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PATH = "/webhooks/twilio"
TOKEN = "bench-auth-token-0123456789"
ACTION_TOKEN = "bench-action-token-0123456789"  # Rasa's calls to the app's custom action
TARGET_RATIO, TARGET_P99_MS, TARGET_RSS_MB, TARGET_IDLE_CPU, TARGET_RASA_OVERHEAD = 0.25, 25.0, 200.0, 1.0, 0.20
# What people write, in order, per language: greetings, free questions, menu digits and keywords.
CONVERSATIONS = {
    "es": ("hola", "necesito pedir asilo en mexico", "MENU", "1", "MAS", "donde hay un albergue en tapachula",
           "me ofrecen trabajo pero piden dinero antes", "gracias"),
    "en": ("hi", "how do I apply for asylum in Costa Rica?", "MENU", "2", "where can I see a doctor for free",
           "thanks"),
    "fr": ("bonjour", "je cherche du travail au Mexique", "MENU", "3", "mon enfant est malade, où aller ?"),
    "ht": ("bonjou", "mwen bezwen yon abri nan Tapachula", "MENI", "1", "ki jan pou m jwenn papye nan Meksik"),
    "pt": ("olá", "preciso de um médico no Panamá", "MENU", "4", "como pedir refúgio na Costa Rica"),
    "nl": ("hallo", "ik zoek werk in Suriname", "MENU", "1"),
    "sms": ("ASILO MX", "AYUDA", "MENU", "1", "MAS", "SALUD GT", "0"),
}
# Calling codes of the programme's people (Mexico, Guatemala, Honduras, Haiti, Venezuela, Brazil, Cuba), and the
# conversation a number of that country most often has.
SENDER_KINDS = (("+52962", "es"), ("+5024", "es"), ("+5043", "sms"), ("+5093", "ht"), ("+58412", "es"),
                ("+5511", "pt"), ("+535", "sms"), ("+1646", "en"), ("+3361", "fr"), ("+5978", "nl"))


class Traffic:
    """Senders walking their conversations; each request a fresh MessageSid, signed for `url`."""

    def __init__(self, url: str, *, senders: int, seed: int, free_text_only: bool = False) -> None:
        self.url, self.validator, self.rng = url, RequestValidator(TOKEN), random.Random(seed)
        self.senders = []
        for n in range(senders):
            prefix, language = SENDER_KINDS[n % len(SENDER_KINDS)]
            number = prefix + "".join(self.rng.choice("0123456789") for _ in range(12 - len(prefix)))
            channel = "sms" if language == "sms" or self.rng.random() < 0.45 else "whatsapp"
            lines = CONVERSATIONS[language]
            if free_text_only:  # what reaches an engine: questions, not keywords, digits or greetings
                lines = tuple(line for line in lines if len(line.split()) >= 4) or CONVERSATIONS["es"][1:2]
            self.senders.append([number, channel, lines, self.rng.randrange(8)])
        self.sid = self.rng.getrandbits(60)

    def take(self, count: int) -> list[tuple[str, str]]:
        out = []
        for _ in range(count):
            sender = self.senders[self.rng.randrange(len(self.senders))]
            number, channel, lines, step = sender
            sender[3] += 1
            form = self.form(channel, number, lines[step % len(lines)])
            out.append((self.validator.compute_signature(self.url, form), urlencode(form)))
        return out

    def form(self, channel: str, number: str, text: str) -> dict[str, str]:
        """Shaped like the captured bodies in tests/fixtures/twilio."""
        self.sid += 1
        sid = f"SM{self.sid:032x}"
        common = {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received", "Body": text,
                  "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": "AC" + "0" * 32,
                  "ApiVersion": "2010-04-01"}
        if channel == "whatsapp":
            return {"ProfileName": "Maria", "MessageType": "text", "WaId": number[1:], **common,
                    "To": "whatsapp:+50640001234", "From": f"whatsapp:{number}"}
        return {"ToCountry": "MX", "ToState": "CHIS", "ToCity": "TAPACHULA", **common, "FromCountry": "MX",
                "To": "+529621234567", "From": number}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes(pid: int) -> list[int]:
    """A server and its worker processes (Linux /proc)."""
    found = [pid]
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(child) for child in path.read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


@contextlib.contextmanager
def serve(target: list[str], *, port: int, env: dict[str, str], log: Path, workers: int = 1) -> Iterator[int]:
    """uvicorn on 127.0.0.1, ready when /healthz answers (and every worker is up), stopped when the block ends."""
    command = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(target)} did not start:\n{log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                up = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200
                if up and (workers == 1 or len(processes(process.pid)) > workers):
                    break
            time.sleep(0.2)
        time.sleep(1.0 if workers == 1 else 3.0)  # the other workers finish their start too
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def idle_cpu(pids: list[int], seconds: float) -> float:
    """Percent of one core the server used while nothing was sent to it."""
    before = cpu_seconds(pids)
    time.sleep(seconds)
    return (cpu_seconds(pids) - before) / seconds * 100


def inbound_count(database_url: str) -> int:
    from sqlalchemy import text

    from app.storage.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM messages WHERE direction = 'in'")).scalar_one())
    finally:
        engine.dispose()


def app_env(base: str, database_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "HASH_SECRET": "bench-hash-secret-0123456789",
            "PUBLIC_BASE_URL": base, "LOG_LEVEL": "WARNING", "ENVIRONMENT": "development",
            "FLOOD_MAX_REPLIES": "100000", "ENGINE": "embedded", **extra}


def load(base: str, traffic: Traffic, work: Path, name: str, *, seconds: float, expect_rate: float,
         connections: int = 16, rate: float | None = None) -> dict:
    """One wrk run with enough distinct bodies for `seconds` at the expected rate (and some to spare)."""
    bodies = int(max(200, (rate or expect_rate) * seconds * 1.5))
    requests = wrk.write_requests(work / f"{name}.txt", traffic.take(bodies))
    figures = wrk.run(base, PATH, requests, seconds=seconds, connections=connections, rate=rate, work=work)
    if figures["wrapped"]:
        print(f"note: {name} sent {figures['requests']} requests from {figures['bodies']} bodies: some were "
              "duplicates", file=sys.stderr)
    return figures


def measure_app(name: str, args: argparse.Namespace, work: Path, *, database_url: str, workers: int,
                bare_rate: float) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    traffic = Traffic(base + PATH, senders=args.senders, seed=len(name))
    log = work / f"{name}.log"
    with serve(["app.main:create_app", "--factory"], port=port, env=app_env(base, database_url), log=log,
               workers=workers) as pid:
        pids = processes(pid)
        rss_start = [rss_mb(p) for p in pids]
        idle = idle_cpu(pids, args.idle_seconds)
        expect = bare_rate / 3
        load(base, traffic, work, f"{name}-warmup", seconds=3, expect_rate=expect)
        cpu = cpu_seconds(pids)
        flat = load(base, traffic, work, f"{name}-flat", seconds=args.seconds, expect_rate=expect)
        flat["cpu_ms_per_request"] = (cpu_seconds(pids) - cpu) * 1000 / max(1, flat["requests"])
        paced = load(base, traffic, work, f"{name}-paced", seconds=args.paced_seconds, expect_rate=args.rate,
                     rate=args.rate)
        handled = inbound_count(database_url)
        if handled < args.messages:  # on to the number of messages the resident size is reported after
            more = (args.messages - handled) / max(1.0, flat["rate"]) * 1.2 + 1
            load(base, traffic, work, f"{name}-fill", seconds=more, expect_rate=flat["rate"])
            handled = inbound_count(database_url)
        rss_end = [rss_mb(p) for p in pids]
        idle_after = idle_cpu(pids, args.idle_seconds)
    lines = log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line or "Traceback" in line]
    return {"flat": flat, "paced": paced, "messages": handled, "rss_start_mb": rss_start, "rss_end_mb": rss_end,
            "idle_cpu_percent": idle, "idle_cpu_after_percent": idle_after, "server_errors": len(errors),
            "first_server_errors": errors[:3], "workers": workers}


def measure_bare(args: argparse.Namespace, work: Path) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    traffic = Traffic(base + PATH, senders=args.senders, seed=0)
    with serve(["bench.bare:app"], port=port, env={}, log=work / "bare.log") as pid:
        idle = idle_cpu([pid], args.idle_seconds)  # the floor: uvicorn's own tick, ten times a second
        load(base, traffic, work, "bare-warmup", seconds=2, expect_rate=8000)
        cpu = cpu_seconds([pid])
        flat = load(base, traffic, work, "bare-flat", seconds=args.seconds, expect_rate=8000)
        flat["cpu_ms_per_request"] = (cpu_seconds([pid]) - cpu) * 1000 / max(1, flat["requests"])
        return {"flat": flat, "rss_start_mb": [rss_mb(pid)], "idle_cpu_percent": idle}


FLOORS = ((1, " + signature, parse"), (2, " + journal"), (3, " + thread"), (4, " + claim and store (SQLite)"))


def measure_floor(steps: int, args: argparse.Namespace, work: Path) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    traffic = Traffic(base + PATH, senders=args.senders, seed=100 + steps)
    env = app_env(base, f"sqlite:///{work / f'floor{steps}.db'}", FLOOR_STEPS=str(steps),
                  INBOX_DIR=str(work / f"floor{steps}-inbox"))
    with serve(["bench.floor:create_app", "--factory"], port=port, env=env, log=work / f"floor{steps}.log") as pid:
        load(base, traffic, work, f"floor{steps}-warmup", seconds=2, expect_rate=6000)
        cpu = cpu_seconds([pid])
        flat = load(base, traffic, work, f"floor{steps}-flat", seconds=args.seconds, expect_rate=6000)
        flat["cpu_ms_per_request"] = (cpu_seconds([pid]) - cpu) * 1000 / max(1, flat["requests"])
        return {"flat": flat}


def metric(base: str, name: str) -> float:
    """One sample of the app's Prometheus metrics (a histogram's _sum or _count), 0 when absent."""
    text = httpx.get(base + "/metrics", timeout=5, trust_env=False).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"))


def measure_rasa(args: argparse.Namespace, work: Path) -> dict:
    """The app in front of Rasa 3.6, free text one message at a time: Rasa's own time per message (its REST call
    as the app times it, less the app's custom action inside it) against what the app adds around it (the rest of
    the reply's time as wrk sees it: HTTP, signature, action, tracker metadata, store)."""
    from app.understanding.rasa_setup import ensure_model, start_server, stop_server

    model = ensure_model()
    port, rasa_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    rasa = start_server(model, port=rasa_port, action_url=f"{base}/rasa/webhook", action_token=ACTION_TOKEN,
                        log=work / "rasa.log")
    try:
        env = app_env(base, f"sqlite:///{work / 'rasa.db'}", ENGINE="rasa", RASA_URL=f"http://127.0.0.1:{rasa_port}",
                      RASA_TIMEOUT_SECONDS="10", RASA_ACTION_TOKEN=ACTION_TOKEN)
        traffic = Traffic(base + PATH, senders=args.senders, seed=7, free_text_only=True)
        with serve(["app.main:create_app", "--factory"], port=port, env=env, log=work / "rasa-app.log") as pid:
            load(base, traffic, work, "rasa-warmup", seconds=5, expect_rate=40, connections=1)
            names = ("migrantinfo_engine_seconds_sum", "migrantinfo_engine_seconds_count",
                     "migrantinfo_rasa_action_seconds_sum", "migrantinfo_engine_fallbacks_total")
            before = {name: metric(base, name) for name in names}
            flat = load(base, traffic, work, "rasa", seconds=args.rasa_seconds, expect_rate=40, connections=1)
            after = {name: metric(base, name) - before[name] for name in names}
            rss = [rss_mb(pid), rss_mb(rasa.pid)]
    finally:
        stop_server(rasa)
    calls = max(1.0, after["migrantinfo_engine_seconds_count"])
    rasa_call_ms = after["migrantinfo_engine_seconds_sum"] / calls * 1000
    action_ms = after["migrantinfo_rasa_action_seconds_sum"] / calls * 1000
    rasa_own_ms = rasa_call_ms - action_ms
    total_ms = flat["mean_us"] / 1000
    return {"flat": flat, "calls": calls, "reply_ms": total_ms, "rasa_call_ms": rasa_call_ms, "action_ms": action_ms,
            "rasa_own_ms": rasa_own_ms, "app_adds_ms": total_ms - rasa_own_ms,
            "overhead": (total_ms - rasa_own_ms) / rasa_own_ms, "fallbacks": after["migrantinfo_engine_fallbacks_total"],
            "rss_mb": rss}


def fresh_postgres(url: str) -> str | None:
    """A new empty database for the two-worker row (dropped and created again); None when PostgreSQL is away."""
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{target.database}"')
    except psycopg.Error as exc:
        print(f"note: no PostgreSQL row ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None
    return target.render_as_string(hide_password=False)


def report(results: dict, args: argparse.Namespace) -> dict:
    bare = results["bare"]["flat"]
    print(f"\nwebhook benchmark with wrk: 1 thread, 16 connections, {args.seconds:g} s flat out; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}; {args.senders} senders\n")
    print(f"{'':34} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms/req':>10} {'errors':>6}")
    rows = [("bare", "bare endpoint (1 worker)"), *((f"floor{n}", label) for n, label in FLOORS),
            ("full", "full path (1 worker, SQLite)"), ("postgres", "full path (2 workers, PostgreSQL)")]
    for name, label in rows:
        if name not in results:
            continue
        f = results[name]["flat"]
        print(f"{label:34} {f['rate']:8.0f} {f['rate'] / bare['rate']:6.1%} {f['p50_us'] / 1000:7.2f} "
              f"{f['p99_us'] / 1000:7.2f} {f['cpu_ms_per_request']:10.3f} "
              f"{f['status_errors'] + f['socket_errors'] + f['timeouts']:6}")
    print(f"\npaced: {args.rate:g} requests/s offered for {args.paced_seconds:g} s")
    for name in ("full", "postgres"):
        if name in results:
            p = results[name]["paced"]
            print(f"  {name:9} {p['rate']:7.1f} req/s  p50 {p['p50_us'] / 1000:6.2f} ms  p90 {p['p90_us'] / 1000:6.2f} ms  "
                  f"p99 {p['p99_us'] / 1000:6.2f} ms  max {p['max_us'] / 1000:7.2f} ms")
    print("\nresident size (MB; per process: the server, then its workers) and idle CPU (% of a core)")
    for name in ("bare", "full", "postgres"):
        r = results.get(name)
        if not r:
            continue
        after = f" → {'+'.join(f'{m:.0f}' for m in r['rss_end_mb'])} after {r['messages']} messages" \
            if "rss_end_mb" in r else ""
        idle = f"; idle {r['idle_cpu_percent']:.2f}%" + (f" after start, {r['idle_cpu_after_percent']:.2f}% after the load"
                                                       if "idle_cpu_after_percent" in r else "")
        print(f"  {name:9} {'+'.join(f'{m:.0f}' for m in r['rss_start_mb'])} at start{after}{idle}")
    rasa = results.get("rasa")
    if rasa:
        print(f"\nRasa 3.6 behind the app, free text, one at a time: {rasa['calls']:.0f} messages, a reply in "
              f"{rasa['reply_ms']:.1f} ms on average (p99 {rasa['flat']['p99_us'] / 1000:.1f} ms)\n"
              f"  Rasa's own time {rasa['rasa_own_ms']:.1f} ms (its REST call {rasa['rasa_call_ms']:.1f} ms, less the "
              f"app's custom action {rasa['action_ms']:.2f} ms)\n"
              f"  the app adds {rasa['app_adds_ms']:.2f} ms = {rasa['overhead']:.1%} of Rasa's own time; "
              f"{rasa['fallbacks']:.0f} fallbacks; resident: app {rasa['rss_mb'][0]:.0f} MB, Rasa {rasa['rss_mb'][1]:.0f} MB")
    full = results["full"]
    ratio = full["flat"]["rate"] / bare["rate"]
    p99 = full["paced"]["p99_us"] / 1000
    rss = max(full["rss_end_mb"])
    idle = max(full["idle_cpu_percent"], full["idle_cpu_after_percent"])
    targets = {"ratio": (ratio, ratio >= TARGET_RATIO, f">= {TARGET_RATIO:.0%}"),
               "paced p99 ms": (p99, p99 <= TARGET_P99_MS, f"<= {TARGET_P99_MS:g}"),
               "rss MB after 10k": (rss, rss <= TARGET_RSS_MB and full["messages"] >= 10_000, f"<= {TARGET_RSS_MB:g}"),
               "idle cpu %": (idle, idle < TARGET_IDLE_CPU, f"< {TARGET_IDLE_CPU:g}")}
    if rasa:
        targets["rasa overhead %"] = (rasa["overhead"] * 100, rasa["overhead"] < TARGET_RASA_OVERHEAD
                                      and not rasa["fallbacks"], f"< {TARGET_RASA_OVERHEAD:.0%}")
    print()
    for label, (value, met, target) in targets.items():
        print(f"target {label:18} {target:8}  {value:8.2f}  {'PASS' if met else 'MISS'}")
    for name, r in results.items():
        for line in r.get("first_server_errors", []):
            print(f"server error ({name}): {line}", file=sys.stderr)
    return {"results": results, "ratio": ratio, "targets": {k: {"value": v, "met": m} for k, (v, m, _) in targets.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="flat-out run per server (default 10)")
    parser.add_argument("--rate", type=float, default=100.0, help="paced run: requests/s offered (default 100)")
    parser.add_argument("--paced-seconds", type=float, default=15.0, help="paced run length (default 15)")
    parser.add_argument("--messages", type=int, default=10_000, help="messages before the resident size is read")
    parser.add_argument("--senders", type=int, default=5000, help="distinct phone numbers (default 5000)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU measured over (default 10)")
    parser.add_argument("--postgres-url", default="postgresql://root@127.0.0.1:5432/migrantinfo_bench",
                        help="the two-worker row's database, dropped and created afresh")
    parser.add_argument("--no-postgres", action="store_true", help="skip the two-worker PostgreSQL row")
    parser.add_argument("--no-floors", action="store_true", help="skip the floor rows (the guarantees alone)")
    parser.add_argument("--rasa", action="store_true", help="also the Rasa row (the environment and model come "
                        "from `migrantinfo rasa prepare`; Rasa takes about a minute to start)")
    parser.add_argument("--rasa-seconds", type=float, default=20.0, help="Rasa row: measured seconds (default 20)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    wrk.require_wrk()
    # as `migrantinfo serve` does: the engine and index are trained in a process of their own, the servers load them
    subprocess.run([sys.executable, "-m", "app.cli", "engine", "prepare"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
        work = Path(tmp)
        results = {"bare": measure_bare(args, work)}
        bare_rate = results["bare"]["flat"]["rate"]
        if not args.no_floors:
            for steps, _ in FLOORS:
                results[f"floor{steps}"] = measure_floor(steps, args, work)
        results["full"] = measure_app("full", args, work, database_url=f"sqlite:///{work / 'bench.db'}", workers=1,
                                      bare_rate=bare_rate)
        postgres = None if args.no_postgres else fresh_postgres(args.postgres_url)
        if postgres:
            results["postgres"] = measure_app("postgres", args, work, database_url=postgres, workers=2,
                                              bare_rate=bare_rate)
        if args.rasa:
            results["rasa"] = measure_rasa(args, work)
    figures = report(results, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    failed = any(r["flat"]["status_errors"] or r["flat"]["socket_errors"] or r.get("server_errors")
                 for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
