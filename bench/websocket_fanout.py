"""Live-event fan-out: worker-side events to every websocket client of a workspace.

Real parts: daphne serving the ASGI app, clients signed in with real session cookies on
`/ws/workspace/`, the channel layer on an embedded Valkey of the bench's own (or
REDIS_URL), events sent the way workers and the relay send them
(apps.core.realtime.broadcast) from this separate process. For 100 and 1,000 clients,
EVENTS events go out EVERY seconds apart; each client notes when each arrives. Latency is
arrival minus send time (one clock: all on this machine); `lost` counts events a client
never got.

    .venv/bin/python bench/websocket_fanout.py [--events 20] [--clients 100,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402


async def _run(url: str, cookies: list[str], events: int, every: float, send) -> dict:  # type: ignore[no-untyped-def]
    import websockets

    arrivals: list[dict[int, float]] = [{} for _ in cookies]
    ready = asyncio.Event()
    connected = 0

    async def client(index: int, cookie: str) -> None:
        nonlocal connected
        async with websockets.connect(url, additional_headers={
                "Cookie": cookie, "Origin": "http://127.0.0.1"}, open_timeout=60,
                max_queue=None) as socket:
            await socket.recv()  # the snapshot
            connected += 1
            if connected == len(cookies):
                ready.set()
            await ready.wait()  # the first clients wait for the last to connect
            deadline = time.monotonic() + 60 + events * every
            while len(arrivals[index]) < events and time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=10)
                except TimeoutError:
                    break
                message = json.loads(raw)
                data = message.get("data") or {}
                if message.get("type") == "bench.ping":
                    arrivals[index][data["seq"]] = time.time()

    sent: dict[int, float] = {}

    async def sender() -> None:
        await asyncio.wait_for(ready.wait(), timeout=120)
        for seq in range(events):
            sent[seq] = time.time()
            await asyncio.to_thread(send, seq, sent[seq])
            await asyncio.sleep(every)

    # Connect in waves, so the server is not asked for 1,000 handshakes at once.
    tasks = []
    for index, cookie in enumerate(cookies):
        tasks.append(asyncio.create_task(client(index, cookie)))
        if index % 50 == 49:
            await asyncio.sleep(0.2)
    await asyncio.gather(sender(), *tasks)
    latencies = [(arrived[seq] - sent[seq]) * 1000 for arrived in arrivals for seq in arrived]
    expected = len(cookies) * events
    return {"clients": len(cookies), "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 0.99), "lost": expected - len(latencies),
            "delivered": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--every", type=float, default=0.25)
    parser.add_argument("--clients", default="100,1000")
    args = parser.parse_args()
    sizes = [int(n) for n in args.clients.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * max(sizes) + 256)), hard))
    var = Path(tempfile.mkdtemp(prefix="aigc-bench-ws-"))
    os.environ.update({"AIGC_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "tests.settings",
                       "LOG_LEVEL": "WARNING"})
    os.environ.pop("DATABASE_URL", None)  # SQLite in the bench's own folder
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from aigc_platform.embedded import running_valkey
    from aigc_platform.processes import ManagedProcess, free_port, web_command
    from apps.accounts.models import Role
    from apps.accounts.services import member_add, workspace_create
    from apps.core.realtime import broadcast

    call_command("migrate", verbosity=0)
    workspace = workspace_create(slug="fanout")

    def send(seq: int, at: float) -> None:
        broadcast([f"workspace.{workspace.pk}"], {"type": "bench.ping",
                                                  "data": {"seq": seq, "sent_at": at}})

    results = []
    with running_valkey(Path(settings.VAR_DIR)):
        cookies = []
        for n in range(max(sizes)):
            user, _ = member_add(workspace=workspace, username=f"viewer{n}", role=Role.REVIEWER)
            client = Client()
            client.force_login(user)
            cookies.append(f"{settings.SESSION_COOKIE_NAME}="
                           f"{client.cookies[settings.SESSION_COOKIE_NAME].value}")
        port = free_port()
        web = ManagedProcess("web", web_command("127.0.0.1", port), dict(os.environ),
                             var / "web.log").start()
        try:
            web.wait_for_port("127.0.0.1", port, timeout=60)
            for size in sizes:
                results.append(asyncio.run(_run(f"ws://127.0.0.1:{port}/ws/workspace/",
                                                cookies[:size], args.events, args.every, send)))
        finally:
            web.stop()
    load = os.getloadavg()
    print(f"{'clients':>8}{'events':>8}{'p50 ms':>9}{'p99 ms':>9}{'lost':>7}")
    for r in results:
        print(f"{r['clients']:>8}{args.events:>8}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
              f"{r['lost']:>7}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    first = results[0]
    print(json.dumps({"p50_ms": round(first["p50_ms"], 1), "p99_ms": round(first["p99_ms"], 1),
                      "lost": sum(r["lost"] for r in results), "clients": first["clients"],
                      **{f"p99_ms_{r['clients']}": round(r["p99_ms"], 1) for r in results},
                      "load_avg_1m": round(load[0], 2)}))


if __name__ == "__main__":
    main()
