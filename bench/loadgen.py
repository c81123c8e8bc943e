"""HTTP load generation for the benchmarks: `wrk` with a Lua script when installed, else a Python client.

Both drive C keep-alive connections, each sending the next request as soon as the previous answer arrived
(closed loop), rotating through a list of JSON bodies, for a fixed duration after a warm-up, and report
requests/s and latency percentiles measured from the client side.

The Python fallback runs in its own process (asyncio on raw sockets, uvloop when available) so that it never
shares an interpreter with the server or the benchmark driver:

    python bench/loadgen.py --port P --path /echo --bodies FILE --clients 16 --duration 10 --warmup 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HOST = "127.0.0.1"


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run(
    port: int,
    path: str,
    bodies: list[bytes],
    token: str | None = None,
    clients: int = 16,
    duration: float = 10.0,
    warmup: float = 2.0,
    tool: str = "auto",
) -> LoadResult:
    """Load 127.0.0.1:port with POST `path`; `tool` is wrk, python or auto (wrk when installed)."""
    if tool == "auto":
        tool = "wrk" if have_wrk() else "python"
    with tempfile.TemporaryDirectory(prefix="deskbase-load-") as tmp:
        if tool == "wrk":
            script = Path(tmp) / "post.lua"
            script.write_text(_lua(path, bodies, token))
            if warmup > 0:
                _wrk(port, script, clients, warmup)
            return _wrk(port, script, clients, duration)
        bodies_file = Path(tmp) / "bodies.jsonl"
        bodies_file.write_bytes(b"\n".join(bodies))
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--port",
            str(port),
            "--path",
            path,
            "--bodies",
            str(bodies_file),
            "--clients",
            str(clients),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
        ]
        if token:
            cmd += ["--token", token]
        out = subprocess.run(
            cmd, check=True, capture_output=True, text=True, timeout=duration + warmup + 60
        ).stdout
        return LoadResult(**json.loads(out))


# ---- wrk ---------------------------------------------------------------------------------------------------

_LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"status_errors\":%d,\"socket_errors\":%d," ..
    "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _lua(path: str, bodies: list[bytes], token: str | None) -> str:
    for b in bodies:
        if b"]==]" in b:
            raise ValueError("a body contains the Lua long-string terminator")
    items = ",\n".join(f"[==[{b.decode()}]==]" for b in bodies)
    auth = f', ["Authorization"] = "Bearer {token}"' if token else ""
    return (
        f"local bodies = {{\n{items}\n}}\n"
        "local n = #bodies\nlocal i = 0\n"
        f'local headers = {{["Content-Type"] = "application/json"{auth}}}\n'
        "request = function()\n  i = i + 1\n  if i > n then i = 1 end\n"
        f'  return wrk.format("POST", "{path}", headers, bodies[i])\nend\n' + _LUA_DONE
    )


def _wrk(port: int, script: Path, clients: int, duration: float) -> LoadResult:
    cmd = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://{HOST}:{port}/",
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=duration + 60).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    d = json.loads(line[len("WRKJSON ") :])
    seconds = d["duration_us"] / 1e6
    return LoadResult(
        "wrk",
        d["requests"],
        seconds,
        d["requests"] / seconds,
        d["p50_us"] / 1000,
        d["p90_us"] / 1000,
        d["p99_us"] / 1000,
        d["max_us"] / 1000,
        d["status_errors"],
        d["socket_errors"],
    )


# ---- Python fallback -------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _request(port: int, path: str, body: bytes, token: str | None) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _client(
    port: int, reqs: list[bytes], offset: int, start: float, stop: float, lat: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    i = offset
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= stop:
                break
            writer.write(reqs[i % len(reqs)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            if t0 >= start:
                lat.append(time.perf_counter() - t0)
                if status >= 400:
                    errors[0] += 1
    finally:
        writer.close()


async def _drive(args: argparse.Namespace) -> LoadResult:
    bodies = [b for b in Path(args.bodies).read_bytes().split(b"\n") if b]
    reqs = [_request(args.port, args.path, b, args.token) for b in bodies]
    lat: list[float] = []
    errors = [0]
    now = time.perf_counter()
    start, stop = now + args.warmup, now + args.warmup + args.duration
    await asyncio.gather(
        *(_client(args.port, reqs, k * 7919, start, stop, lat, errors) for k in range(args.clients))
    )
    ms = [x * 1000 for x in lat]
    return LoadResult(
        "python",
        len(ms),
        args.duration,
        len(ms) / args.duration,
        _percentile(ms, 50),
        _percentile(ms, 90),
        _percentile(ms, 99),
        max(ms) if ms else float("nan"),
        errors[0],
        0,
    )


def main() -> None:
    p = argparse.ArgumentParser(description="closed-loop HTTP POST load (the wrk fallback)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--bodies", required=True, help="file with one JSON body per line")
    p.add_argument("--token")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    args = p.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_drive(args))
    else:
        result = uvloop.run(_drive(args))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
