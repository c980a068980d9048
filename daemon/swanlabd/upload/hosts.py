"""The uploader's connections: one pooled HTTP client and one request bound per api host.

Every run that uploads to a host shares that host's client and its FIFO semaphore of
`max_inflight` slots (docs/upload.md: each request also holds its run's own semaphore), so a
slow or unreachable host never holds up another. A host's client and gate exist while some run
uploads there: `acquire` when a run's session starts, `release` when its upload ends; the last
release closes the client, so a daemon that has uploaded to many hosts keeps none it no longer uses.
"""

from __future__ import annotations

import asyncio

import httpx

from swanlabd.upload import cloudapi

__all__ = ["Hosts"]


class Hosts:
    """Clients and request gates by api host, made on first use. On the daemon's event loop."""

    def __init__(self, max_inflight: int, timeout: httpx.Timeout) -> None:
        self.max_inflight = max_inflight
        self.timeout = timeout
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._users: dict[str, int] = {}  # api host -> runs holding it

    def acquire(self, api_host: str) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """The host's client and its FIFO bound on requests in flight, for one more run; `release` after."""
        self._users[api_host] = self._users.get(api_host, 0) + 1
        gate = self._gates.get(api_host)
        if gate is None:
            gate = self._gates[api_host] = asyncio.Semaphore(self.max_inflight)
        client = self._clients.get(api_host)
        if client is None:
            client = self._clients[api_host] = cloudapi.new_http_client(timeout=self.timeout)
        return client, gate

    async def release(self, api_host: str) -> None:
        """One run is done with the host; the last one closes its client."""
        users = self._users.pop(api_host, 0) - 1
        if users > 0:
            self._users[api_host] = users
            return
        self._gates.pop(api_host, None)
        client = self._clients.pop(api_host, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        """Close every client (shutdown); a later `acquire` opens a new one."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
