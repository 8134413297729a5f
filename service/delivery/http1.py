"""The deliverer's HTTP client: one POST, HTTP/1.1 with keep-alive, on asyncio protocols.

Why not httpx (which the deliverer used first): a delivery needs one thing of the
client — POST these bytes to this checked address and say the status — and httpx's
general machinery cost more than the rest of the attempt. Profiled at 10 subscribers,
its connection pool scanned every pooled connection on each request (``is_idle``,
``has_expired``, a ``getpeername`` each), which made a delivery cost O(connections).
Here a pool is a list of idle connections per target, and an answer is parsed from the
bytes as they arrive.

What it does and does not do, on purpose:

- It connects to the address the SSRF guard checked (``Target.address``); the name goes
  in ``Host`` and, for https, in TLS SNI and the certificate check.
- No redirects: a 3xx is an answer like any other.
- A bounded read: the answer's head and body are read up to ``max_response_bytes``;
  a body with no length, a chunked one or a longer one is not read at all (the
  connection is closed instead of being reused).
- One timeout for the whole attempt: connecting, sending and the answer.
- A kept-alive connection that the server closed while it was idle is found closed when
  reused before any answer came; the request is then sent once more on a new one.
- At most ``per_target`` requests (so connections) at once to one address and port,
  whichever subscriptions they are for: each subscription sends up to
  WEBHOOKS_CONCURRENCY at once, and ten subscriptions to one small receiver would
  otherwise open hundreds of connections, overflow its accept queue, time out and be
  retried (duplicates). A request waits for a free slot before its timeout starts.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque

# Idle connections kept per target, and for how long. Subscriptions to one host share
# them; no more than the per-target cap are ever in use at once, so this bounds only a
# cap raised past it.
IDLE_PER_TARGET = 512
IDLE_SECONDS = 30.0


class HttpError(Exception):
    """No answer: the connection failed, timed out, or the answer was not HTTP."""


class _Closed(HttpError):
    """The server closed the connection before answering."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one request at a time."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.idle_since = 0.0
        self.status = 0
        self.body_end = -1  # where the answer ends in the buffer, once its head is read

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            self._parse()
        elif self.waiter is None:  # bytes nobody asked for: this connection is spoiled
            self.close()

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            if self.status:  # the head came; the body is cut short
                self.waiter.set_result(False)
            else:
                self.waiter.set_exception(_Closed("The server closed the connection."))

    # -- one exchange --------------------------------------------------------------

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send ``request``; the answer's status, and whether the connection may be reused."""
        self.buffer.clear()
        self.status = 0
        self.body_end = -1
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        if self.buffer:  # an answer came before the request was written
            self._parse()
        try:
            reusable = await self.waiter
        finally:
            self.waiter = None
        return self.status, reusable

    def _parse(self) -> None:
        buffer = self.buffer
        while not self.status:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > self.max_bytes:
                    self._fail("The answer's head is longer than the read limit.")
                return
            head = bytes(buffer[:end]).decode("latin-1")
            del buffer[: end + 4]
            lines = head.split("\r\n")
            try:
                version, code = lines[0].split(" ", 2)[:2]
                status = int(code)
            except ValueError:
                self._fail("The answer is not HTTP.")
                return
            if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
                continue
            self.status = status
            length = None
            keep = version == "HTTP/1.1"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = None
                        keep = False
                elif name == "transfer-encoding":
                    keep = False  # chunked: not read (see the module's doc)
                elif name == "connection" and "close" in value.lower():
                    keep = False
            if length is None or length > self.max_bytes or not keep:
                self.waiter.set_result(False)
                return
            self.body_end = length
        if len(buffer) >= self.body_end:
            reusable = len(buffer) == self.body_end  # more bytes: not ours to guess about
            self.waiter.set_result(reusable)

    def _fail(self, reason: str) -> None:
        self.waiter.set_exception(HttpError(reason))


class _TargetSlots:
    """At most ``limit`` holders per key at once; the others wait, first come first
    served. A key's entry goes when nobody holds or waits for it."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("WEBHOOKS_CONNECTIONS_PER_TARGET must be at least 1.")
        self.limit = limit
        self.held: dict[tuple, int] = {}
        self.waiting: dict[tuple, deque[asyncio.Future]] = {}

    async def acquire(self, key: tuple) -> None:
        if self.held.get(key, 0) < self.limit and not self.waiting.get(key):
            self.held[key] = self.held.get(key, 0) + 1
            return
        slot = asyncio.get_running_loop().create_future()
        queue = self.waiting.setdefault(key, deque())
        queue.append(slot)
        try:
            await slot  # handed over by ``release``, the holder count unchanged
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self.release(key)  # handed over as we were cancelled: pass it on
            else:
                queue.remove(slot)
                if not queue:
                    del self.waiting[key]
            raise

    def release(self, key: tuple) -> None:
        queue = self.waiting.get(key)
        while queue:
            slot = queue.popleft()
            if not slot.done():
                slot.set_result(None)
                if not queue:
                    del self.waiting[key]
                return
        self.waiting.pop(key, None)
        self.held[key] -= 1
        if not self.held[key]:
            del self.held[key]


def _request(target, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {target.request_target} HTTP/1.1", f"Host: {target.host_header}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Http1Client:
    """POSTs to checked targets, keeping connections alive per target."""

    def __init__(self, timeout: float, max_response_bytes: int, per_target: int = 16):
        self.timeout = timeout
        self.max_bytes = max_response_bytes
        self.idle: dict[tuple, list[_Connection]] = {}
        self.slots = _TargetSlots(per_target)  # by (address, port), as resolved
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def post(self, target, headers: dict[str, str], body: bytes) -> int:
        """POST ``body``; the answer's status code. ``HttpError`` when there is none."""
        request = _request(target, headers, body)
        key = (target.scheme, target.address, target.port, target.host)
        slot = (target.address, target.port)
        await self.slots.acquire(slot)
        try:
            return await self._post(key, target, request)
        finally:
            self.slots.release(slot)

    async def _post(self, key, target, request: bytes) -> int:
        try:
            async with asyncio.timeout(self.timeout):
                connection = self._reuse(key)
                if connection is not None:
                    try:
                        return await self._exchange(key, connection, request)
                    except _Closed:
                        pass  # closed while idle: once more, on a new connection
                connection = await self._connect(target)
                return await self._exchange(key, connection, request)
        except TimeoutError as error:
            raise HttpError(f"No answer within {self.timeout:g} s.") from error
        except OSError as error:
            raise HttpError(f"{type(error).__name__}: {error}") from error

    async def _exchange(self, key, connection: _Connection, request: bytes) -> int:
        try:
            status, reusable = await connection.exchange(request)
        except BaseException:
            connection.close()
            raise
        if reusable and not connection.closed:
            self._keep(key, connection)
        else:
            connection.close()
        return status

    def _reuse(self, key) -> _Connection | None:
        idle = self.idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    def _keep(self, key, connection: _Connection) -> None:
        idle = self.idle.setdefault(key, [])
        if len(idle) >= IDLE_PER_TARGET:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, target) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = target.scheme == "https"
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self.max_bytes),
                target.address,
                target.port,
                ssl=self._tls_context() if tls else None,
                server_hostname=target.host if tls else None,
            )
        except ssl.SSLError as error:
            raise HttpError(f"TLS: {error}") from error
        return connection

    async def aclose(self) -> None:
        for idle in self.idle.values():
            for connection in idle:
                connection.close()
        self.idle.clear()
