"""Live-event fan-out: worker-side events to every websocket client of a workspace.

Real parts: daphne serving the ASGI app on a PostgreSQL cluster of the bench's own (the
production setup; `--database sqlite` for the embedded default), clients signed in with real
session cookies on `/ws/workspace/`, the channel layer on an embedded Valkey of the bench's
own (or REDIS_URL), events sent the way workers and the relay send them
(apps.core.realtime.broadcast) from this separate process. For 100 and 1,000 clients,
EVENTS events go out EVERY seconds apart; each client notes when each arrives. Latency is
arrival minus send time (one clock: all on this machine); `lost` counts events a client
never got. Clients connect in waves of 50 every 0.2 s, and one whose handshake the busy
server drops tries again as the dashboard's socket does: `retries` counts those tries, and
`all connected s` is how long the burst took to be served.

    .venv/bin/python bench/websocket_fanout.py [--events 20] [--clients 100,1000]
        [--database postgres|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from tests.private_postgres import private_postgres  # noqa: E402

CONNECT_TRIES = 8  # about two minutes of backoff at the most


async def _run(url: str, cookies: list[str], events: int, every: float, send) -> dict:  # type: ignore[no-untyped-def]
    import websockets

    arrivals: list[dict[int, float]] = [{} for _ in cookies]
    ready = asyncio.Event()
    connected = retries = 0
    started = time.monotonic()
    all_connected_s = 0.0

    async def opened(cookie: str) -> Any:
        """A signed-in socket; a refused or dropped handshake (a server busy with a burst
        closes those it has not accepted within its timeout) is tried again as the
        dashboard does (workspace_socket.js): backoff doubling from 1 s, with jitter. The
        last try's failure ends the run."""
        nonlocal retries

        def connect() -> Any:
            return websockets.connect(url, additional_headers={
                "Cookie": cookie, "Origin": "http://127.0.0.1"}, open_timeout=60,
                max_queue=None)

        for attempt in range(CONNECT_TRIES - 1):
            try:
                return await connect()
            except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake):
                retries += 1
                await asyncio.sleep(min(30, 2 ** attempt) * (0.5 + random.random() / 2))
        return await connect()

    async def client(index: int, cookie: str) -> None:
        nonlocal connected, all_connected_s
        async with await opened(cookie) as socket:
            await socket.recv()  # the snapshot
            connected += 1
            if connected == len(cookies):
                all_connected_s = time.monotonic() - started
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
        await asyncio.wait_for(ready.wait(), timeout=180)
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
            "delivered": len(latencies), "retries": retries, "connected_s": all_connected_s}


def _measure(args: argparse.Namespace, sizes: list[int], var: Path) -> list[dict]:
    """Clients signed in, daphne started on the environment's database, each size measured."""
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

    results = []
    with running_valkey(Path(settings.VAR_DIR)):
        workspace = workspace_create(slug="fanout")  # its events go to the running layer

        def send(seq: int, at: float) -> None:
            broadcast([f"workspace.{workspace.pk}"], {"type": "bench.ping",
                                                      "data": {"seq": seq, "sent_at": at}})

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
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--every", type=float, default=0.25)
    parser.add_argument("--clients", default="100,1000")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    sizes = [int(n) for n in args.clients.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * max(sizes) + 256)), hard))
    with contextlib.ExitStack() as stack:
        var = Path(tempfile.mkdtemp(prefix="aigc-bench-ws-"))
        os.environ.update({"AIGC_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "tests.settings",
                           "LOG_LEVEL": "WARNING"})
        if args.database == "postgres":
            cluster = stack.enter_context(private_postgres(max_connections=60))
            os.environ["DATABASE_URL"] = cluster.url
        else:
            os.environ.pop("DATABASE_URL", None)  # SQLite in the bench's own folder
        results = _measure(args, sizes, var)
    load = os.getloadavg()
    print(f"{'clients':>8}{'events':>8}{'p50 ms':>9}{'p99 ms':>9}{'lost':>7}"
          f"{'all connected s':>17}{'retries':>9}")
    for r in results:
        print(f"{r['clients']:>8}{args.events:>8}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
              f"{r['lost']:>7}{r['connected_s']:>17.1f}{r['retries']:>9}")
    print(f"database {args.database}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} cores")
    first = results[0]
    print(json.dumps({"p50_ms": round(first["p50_ms"], 1), "p99_ms": round(first["p99_ms"], 1),
                      "lost": sum(r["lost"] for r in results), "clients": first["clients"],
                      **{f"p99_ms_{r['clients']}": round(r["p99_ms"], 1) for r in results},
                      **{f"connect_retries_{r['clients']}": r["retries"] for r in results},
                      "database": args.database, "load_avg_1m": round(load[0], 2)}))


if __name__ == "__main__":
    main()
