"""The loopback HTTP server plumbing shared by the provider fakes."""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # many concurrent connects on a loaded machine
    daemon_threads = True


class LoopbackFake:
    """Serve ``make_handler(self)`` on a free 127.0.0.1 port in a thread.

    Subclasses set their switches, then call ``super().__init__(handler)``.
    ``_release`` frees requests a fake holds (``hang``); ``cancelled`` and
    ``finished`` let tests see how a request ended.
    """

    def __init__(
        self, make_handler: Callable[[Self], type[BaseHTTPRequestHandler]]
    ) -> None:
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), make_handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hung requests and stop serving."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
