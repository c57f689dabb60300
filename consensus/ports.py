"""Free loopback ports for store members started by tests, demos and benchmarks.

The kernel picks them (bind to port 0); all are held at once so no two are the same, then released. Another
process could take one before the member binds it: fine for tests and demos on one machine, not a promise.
"""

from __future__ import annotations

import socket


def free_loopback_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
