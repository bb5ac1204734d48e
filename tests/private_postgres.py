"""A PostgreSQL cluster of the test's own (initdb into a temp folder, its own port), for
tests that load, exhaust, stop or restart a database: never the machine's shared server."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    max_connections: int = 40
    server: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/aigc"

    def client_connections(self, database: str = "aigc") -> int:
        """Client connections to `database` now, not counting the one asking."""
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                               "AND backend_type = 'client backend'", (database,)).fetchone()
        return int(row[0]) if row else 0

    @property
    def _admin_url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30) -> None:
        """Start the server on its folder and port; return once it accepts connections."""
        self.server = subprocess.Popen(
            _as_owner([_bin("postgres"), "-D", str(self.folder / "data"), "-p", str(self.port),
                       "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1",
                       "-c", f"max_connections={self.max_connections}", "-c", "fsync=off"],
                      self.user),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self._admin_url, autocommit=True, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): every client is disconnected, as when an operator or a
        crash restarts the database under the platform."""
        if self.server is None or self.server.poll() is not None:
            return
        # pg_ctl, not a signal to our child: as root that child is runuser, not the server.
        stopped = subprocess.run(
            _as_owner([_bin("pg_ctl"), "stop", "-D", str(self.folder / "data"), "-m", "fast",
                       "-w", "-t", "20"], self.user), capture_output=True, timeout=30)
        try:
            self.server.wait(10 if stopped.returncode == 0 else 1)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(10)

    def restart(self, *, down_s: float = 0.0) -> None:
        """Stop the server, stay down `down_s` seconds, start it again on the same data."""
        self.stop()
        time.sleep(down_s)
        self.start()


def _as_owner(command: list[str], owner: str) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    return ["runuser", "-u", owner, "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def private_postgres(*, max_connections: int = 40) -> Iterator[PrivatePostgres]:
    owner = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    folder = Path(tempfile.mkdtemp(prefix="aigc-pg-"))
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, owner)
    subprocess.run(_as_owner([_bin("initdb"), "-D", str(folder / "data"), "-U", owner, "-A",
                              "trust", "--no-sync"], owner),
                   check=True, capture_output=True, timeout=120)
    cluster = PrivatePostgres(port=free_port(), folder=folder, user=owner,
                              max_connections=max_connections)
    try:
        cluster.start()
        with psycopg.connect(cluster._admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE aigc")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
