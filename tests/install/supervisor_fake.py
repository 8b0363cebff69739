"""A loopback HTTP server answering the Supervisor's ``GET /services/mqtt`` as the real one does.

Shape from the Supervisor (supervisor/services/modules/mqtt.py: host, port, ssl, protocol,
username, password, addon) and bashio's services.sh (``GET /services/<name>``, Bearer token,
the payload under ``data``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "test-supervisor-token"


@contextmanager
def fake_supervisor(mqtt: dict[str, Any] | None) -> Iterator[str]:
    """Serve ``mqtt`` (None: no broker add-on → HTTP 400 like the Supervisor) and yield the URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"result": "error", "message": "Unauthorized"})
            elif self.path != "/services/mqtt":
                self._answer(404, {"result": "error", "message": "Not found"})
            elif mqtt is None:
                self._answer(400, {"result": "error", "message": "No available service"})
            else:
                self._answer(200, {"result": "ok", "data": mqtt})

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
