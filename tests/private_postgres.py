"""A PostgreSQL cluster of the test's own (initdb into a temp folder, its own port), for
tests that load, exhaust or stop a database: never the machine's shared server."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from aigc_platform.processes import free_port


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   reverse=True)), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is needed for a private cluster")
    return found


@dataclass
class PrivatePostgres:
    port: int
    folder: Path
    user: str

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/aigc"

    def client_connections(self, database: str = "aigc") -> int:
        """Client connections to `database` now, not counting the one asking."""
        with psycopg.connect(f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                               "AND backend_type = 'client backend'", (database,)).fetchone()
        return int(row[0]) if row else 0


def _as_owner(command: list[str], owner: str) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    return ["runuser", "-u", owner, "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def private_postgres(*, max_connections: int = 40) -> Iterator[PrivatePostgres]:
    owner = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    folder = Path(tempfile.mkdtemp(prefix="aigc-pg-"))
    os.chmod(folder, 0o755)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, owner)
    port = free_port()
    subprocess.run(_as_owner([_bin("initdb"), "-D", str(data), "-U", owner, "-A", "trust",
                              "--no-sync"], owner), check=True, capture_output=True, timeout=120)
    server = subprocess.Popen(
        _as_owner([_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
                   "-c", "listen_addresses=127.0.0.1", "-c", f"max_connections={max_connections}",
                   "-c", "fsync=off"], owner),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cluster = PrivatePostgres(port=port, folder=folder, user=owner)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"postgresql://{owner}@127.0.0.1:{port}/postgres",
                                     autocommit=True) as conn:
                    conn.execute("CREATE DATABASE aigc")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield cluster
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
