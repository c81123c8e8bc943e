"""A fast webhook receiver for bench/webhooks.py, as its own process: a bare asyncio HTTP/1.1 server that answers
every POST with 200 (a path starting with /slow answers after --slow seconds) and records, per request, its
arrival time (time.time()), path and the record id of the event, written as JSON lines on SIGTERM.

    python bench/webhook_receiver.py --port P --out FILE [--slow 10]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

import orjson

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


def record_id(body: bytes) -> str:
    try:
        data = orjson.loads(body).get("data") or {}
    except orjson.JSONDecodeError:
        return ""
    return str((data.get("record") or {}).get("id") or "")


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--slow", type=float, default=10.0)
    args = p.parse_args()
    seen: list[tuple[float, str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                seen.append((time.time(), path, record_id(body)))
                if path.startswith("/slow"):
                    await asyncio.sleep(args.slow)
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", args.port, backlog=512)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    with open(args.out, "wb") as f:
        for t, path, rid in seen:
            f.write(orjson.dumps([t, path, rid]) + b"\n")


if __name__ == "__main__":
    asyncio.run(main())
