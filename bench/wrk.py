"""wrk, the compiled HTTP load generator, driven from Python: pre-signed bodies in a file, a Lua script that
sends each once, and the figures wrk prints read back as a dict.

A Python client saturates before the server it measures (about 1,250 requests/s here against a bare endpoint
that does 6,000+), so every ratio it gives flatters the slower server. wrk does not.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

# One thread: the Lua state walks the request file once; wrapping around would send duplicate MessageSids.
LUA = r"""
local requests, count, sent = {}, 0, 0
local path, interval = os.getenv("WRK_REQUESTS"), tonumber(os.getenv("WRK_DELAY_MS") or "0")

init = function(args)
  for line in io.lines(path) do
    local signature, body = line:match("^(%S+) (.*)$")
    count = count + 1
    requests[count] = wrk.format("POST", os.getenv("WRK_PATH"), {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = signature,
    }, body)
  end
end

request = function()
  sent = sent + 1
  return requests[(sent - 1) % count + 1]
end

if interval > 0 then
  delay = function()
    return interval * (0.5 + math.random())  -- jittered: people do not write on a clock
  end
end

done = function(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    '\nWRK-JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def require_wrk() -> str:
    """The wrk binary, installed from Debian's packages when missing (as the browser tests install Chromium)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing it from Debian's packages (apt-get install wrk)", file=sys.stderr)
    sudo = [] if shutil.which("sudo") is None or os.geteuid() == 0 else ["sudo"]
    for command in ([*sudo, "apt-get", "install", "-y", "-q", "wrk"],
                    [*sudo, "apt-get", "update", "-q"], [*sudo, "apt-get", "install", "-y", "-q", "wrk"]):
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode == 0 and shutil.which("wrk"):
            break
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed and could not be installed: run `apt-get install wrk` (Debian/Ubuntu)")
    return found


def write_requests(path: Path, requests: list[tuple[str, str]]) -> Path:
    """One line per request: the X-Twilio-Signature, a space, the urlencoded body (which has no newline)."""
    with path.open("w") as out:
        for signature, body in requests:
            out.write(f"{signature} {body}\n")
    return path


def run(url: str, path: str, requests_file: Path, *, seconds: float, connections: int = 16,
        rate: float | None = None, work: Path) -> dict:
    """Drive `url + path` for `seconds` with `connections` keep-alive connections on one thread.

    With a rate, each connection waits about connections/rate seconds between requests, so together they offer
    that many requests a second (below the server's capacity the latency is then a person's, not a queue's).
    """
    script = work / "bench.lua"
    script.write_text(LUA)
    delay_ms = 1000.0 * connections / rate if rate else 0.0
    env = {"WRK_REQUESTS": str(requests_file), "WRK_PATH": path, "WRK_DELAY_MS": f"{delay_ms:.3f}",
           "PATH": "/usr/bin:/bin"}
    command = [require_wrk(), "-t1", f"-c{connections}", f"-d{math.ceil(seconds)}s", "--timeout", "10s", "-s", str(script),
               url]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line.removeprefix("WRK-JSON "))
    seconds_taken = figures["duration_us"] / 1e6
    figures["rate"] = figures["requests"] / seconds_taken
    figures["seconds"] = seconds_taken
    figures["bodies"] = sum(1 for _ in requests_file.open())
    figures["wrapped"] = figures["requests"] > figures["bodies"]  # some bodies were sent twice: duplicates
    return figures
