"""Free TCP ports on this machine, for servers started on a port chosen in advance
(the emulator's moto server, test and benchmark stacks)."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["free_port", "free_ports"]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports nobody listened on at `host` a moment ago (all held open
    together while chosen, so they differ)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listened on at `host` a moment ago."""
    (port,) = free_ports(1, host)
    return port
