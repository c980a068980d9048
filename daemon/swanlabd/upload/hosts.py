"""The forwarder's connections: one pooled HTTP client and one request bound per api host.

Every run that uploads to a host shares that host's client and its FIFO semaphore of
`max_inflight` slots (docs/forwarder.md: each request also holds its run's own semaphore), so a
slow or unreachable host never holds up another.
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

    def gate(self, api_host: str) -> asyncio.Semaphore:
        """The FIFO bound on requests in flight to one api host, shared by every run that uploads there."""
        gate = self._gates.get(api_host)
        if gate is None:
            gate = self._gates[api_host] = asyncio.Semaphore(self.max_inflight)
        return gate

    def client(self, api_host: str) -> httpx.AsyncClient:
        client = self._clients.get(api_host)
        if client is None:
            client = self._clients[api_host] = cloudapi.new_http_client(timeout=self.timeout)
        return client

    async def aclose(self) -> None:
        """Close every client (shutdown); a later `client()` opens a new one."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
