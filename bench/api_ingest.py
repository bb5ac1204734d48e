"""Signed inbound-webhook briefs per second the web tier takes, beside the same server's
cheapest answer, measured side by side in one run.

Production setup on this machine: a PostgreSQL cluster of the bench's own (initdb into a
temp folder; the machine's shared server is never loaded), the broker and channel layer
on REDIS_URL or an embedded Valkey of the bench's own, DEBUG off, the connection pool.
Two servers are measured: daphne (one process, as `manage.py serve` runs it) and uvicorn
with one worker per core (several processes behind one address). For each, CONCURRENCY
clients send for SECONDS:

- ingest: `POST /api/v1/hooks/<slug>/`, each a new Standard-Webhooks-signed message that
  creates a brief (verified, deduplicated, mapped, submitted: job, outbox, relay to the
  broker) and answers 202;
- bare: `GET /bench/bare/` on the same server, a Django view that answers "ok" through
  the whole middleware stack and URL resolution (bench/bare_urls.py): the cost of the
  server and Django's request cycle alone;
- floor: `GET /healthz`, answered by the first middleware, for scale.

`ratio` is ingest/s over bare/s on the uvicorn server. The load generator runs on the
same cores (2 here), so both sides pay for it alike. No worker consumes the briefs:
their messages are left in the bench's own broker. `cpu ms` is the CPU time the server
side (the web processes, PostgreSQL and Valkey: every child of the bench, not the load
generator) used per request: on a machine that others load too, it moves far less than
the rates do, and 1000 × cores / cpu ms bounds the rate that machine could reach.

    .venv/bin/python bench/api_ingest.py [--seconds 15] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from tests.private_postgres import private_postgres  # noqa: E402


def _children_cpu_s() -> float:
    """CPU seconds used so far by this process's descendants (Linux /proc), with those of
    their children that already ended."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        used[int(entry)] = sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    total, stack = 0.0, list(children.get(os.getpid(), []))
    while stack:
        pid = stack.pop()
        total += used.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total


async def _drive(url: str, seconds: float, concurrency: int, make) -> dict[str, float]:  # type: ignore[no-untyped-def]
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        async def one_client() -> None:
            while time.monotonic() < deadline:
                method, path, body, headers = make()
                started = time.perf_counter()
                response = await client.request(method, url + path, content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started, cpu_before = time.monotonic(), _children_cpu_s()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed, cpu = time.monotonic() - started, _children_cpu_s() - cpu_before
    return {"per_s": len(latencies) / elapsed, "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 0.99), "requests": len(latencies),
            "cpu_ms": 1000 * cpu / max(1, len(latencies)),
            "statuses": statuses}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="aigc-bench-ingest-"))
    with private_postgres(max_connections=60) as cluster:
        os.environ.update({
            "DATABASE_URL": cluster.url, "AIGC_VAR_DIR": str(var),
            # production settings, keys of its own, and the bare view
            "DJANGO_SETTINGS_MODULE": "bench.bare_site",
            "API_THROTTLE_USER_RATE": "1000000/min", "API_THROTTLE_KEY_RATE": "1000000/min",
            "LOG_LEVEL": "WARNING",
        })
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from aigc_platform.embedded import running_valkey
        from aigc_platform.processes import ManagedProcess, free_port, web_command
        from apps.accounts.services import member_add, workspace_create
        from apps.core import signing
        from apps.core.models import OutboxEvent
        from apps.integrations.inbound import endpoint_create
        from tests import factories

        # the Valkey first: creating the endpoint already tells the admins' sockets
        with running_valkey(Path(settings.VAR_DIR)):
            call_command("migrate", verbosity=0)
            workspace = workspace_create(slug="bench")
            member_add(workspace=workspace, username="bench", role="admin")
            content_type = factories.content_type(workspace, slug="news")
            _, secret = endpoint_create(
                workspace=workspace, name="CMS", slug="cms", content_type_id=content_type.pk,
                field_mapping={"title": "title", "topic": "topic", "keywords": "keywords"})

            def signed_brief() -> tuple[str, str, bytes, dict[str, str]]:
                body = json.dumps({"title": "Rain gardens", "topic": "how to plan a rain garden",
                                   "keywords": ["rain", "garden"]}).encode()
                headers = signing.signed_headers(secret=secret, msg_id=f"msg_{uuid.uuid4().hex}",
                                                 body=body)
                return "POST", "/api/v1/hooks/cms/", body, {**headers,
                                                            "content-type": "application/json"}

            def bare() -> tuple[str, str, bytes, dict[str, str]]:
                return "GET", "/bench/bare/", b"", {}

            def health() -> tuple[str, str, bytes, dict[str, str]]:
                return "GET", "/healthz", b"", {}

            servers = {
                "daphne x1": lambda port: web_command("127.0.0.1", port),
                f"uvicorn x{args.workers}": lambda port: [
                    sys.executable, "-m", "uvicorn", "aigc_platform.asgi:application", "--host",
                    "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
                    "--log-level", "warning", "--no-access-log"],
            }
            results: dict[str, dict[str, dict[str, float]]] = {}
            unrelayed: dict[str, int] = {}
            for name, command in servers.items():
                port = free_port()
                web = ManagedProcess(name, command(port), dict(os.environ),
                                     var / f"{name.split()[0]}.log").start()
                try:
                    web.wait_for_port("127.0.0.1", port, timeout=60)
                    url = f"http://127.0.0.1:{port}"
                    asyncio.run(_drive(url, 2, args.concurrency, signed_brief))  # warm up
                    results[name] = {
                        "ingest": asyncio.run(_drive(url, args.seconds, args.concurrency,
                                                     signed_brief)),
                        "bare": asyncio.run(_drive(url, args.seconds, args.concurrency, bare)),
                        "floor": asyncio.run(_drive(url, args.seconds, args.concurrency,
                                                    health)),
                    }
                    # The web tier relays in the background: after the bare side's seconds,
                    # every event of the ingest side should be relayed.
                    unrelayed[name] = OutboxEvent.objects.filter(relayed_at__isnull=True).count()
                finally:
                    web.stop()
    load = os.getloadavg()
    print(f"{'server':<14}{'side':<8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms':>9}"
          "  statuses")
    for name, sides in results.items():
        for side, r in sides.items():
            print(f"{name:<14}{side:<8}{r['per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
                  f"{r['cpu_ms']:>9.2f}  {r['statuses']}")
    print(f"events left unrelayed (all servers so far): {unrelayed}")
    best = results[f"uvicorn x{args.workers}"]
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(json.dumps({
        "briefs_per_s": round(best["ingest"]["per_s"], 1),
        "p50_ms": round(best["ingest"]["p50_ms"], 1), "p99_ms": round(best["ingest"]["p99_ms"], 1),
        "cpu_ms_per_brief": round(best["ingest"]["cpu_ms"], 2),
        "bare_per_s": round(best["bare"]["per_s"], 1),
        "floor_per_s": round(best["floor"]["per_s"], 1),
        "ratio": round(best["ingest"]["per_s"] / best["bare"]["per_s"], 3),
        "daphne_briefs_per_s": round(results["daphne x1"]["ingest"]["per_s"], 1),
        "daphne_p99_ms": round(results["daphne x1"]["ingest"]["p99_ms"], 1),
        "unrelayed_events": max(unrelayed.values()),
        "concurrency": args.concurrency, "workers": args.workers,
        "load_avg_1m": round(load[0], 2)}))


if __name__ == "__main__":
    main()
