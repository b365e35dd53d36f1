"""What every loopback test server shares: a threaded HTTP server on 127.0.0.1.

A subclass builds its request handler in :meth:`LoopbackServer._handler`; a fixture
calls :meth:`start` and, by reference, :meth:`stop`. :class:`ScriptedRoutes` adds
replies scripted per route (the next N requests, or every request until cleared).
"""

from __future__ import annotations

import functools
import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

ReplyT = TypeVar("ReplyT")


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer ``handler``'s request with ``payload`` as JSON (and any extra headers)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class LoopbackServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval: stop() waits for it, once per test.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class ScriptedRoutes(LoopbackServer, Generic[ReplyT]):
    """Replies scripted per route; a route without a script answers normally."""

    def __init__(self) -> None:
        self._scripted: dict[str, deque[ReplyT]] = defaultdict(deque)
        self._always: dict[str, ReplyT] = {}
        super().__init__()

    def queue(self, route: str, *replies: ReplyT) -> None:
        """Answer the next requests to ``route`` with ``replies``, then normally again."""
        with self._lock:
            self._scripted[route].extend(replies)

    def always(self, route: str, reply: ReplyT) -> None:
        """Answer every request to ``route`` with ``reply`` (an outage) until :meth:`clear`."""
        with self._lock:
            self._always[route] = reply

    def clear(self, route: str) -> None:
        """Forget the replies scripted for ``route``: it answers normally again."""
        with self._lock:
            self._scripted[route].clear()
            self._always.pop(route, None)

    def scripted_reply(self, route: str) -> ReplyT | None:
        with self._lock:
            if self._scripted[route]:
                return self._scripted[route].popleft()
            return self._always.get(route)


__all__ = ["LoopbackServer", "ScriptedRoutes"]
