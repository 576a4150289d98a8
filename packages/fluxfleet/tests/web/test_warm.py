"""``fluxfleet.web.warm``: the server asks for its own heavy pages once at start."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from fluxfleet.web import day_rollups, rollups
from fluxfleet.web.warm import WARM_PATHS, local_base_url, warm_up

from testsupport.services import free_port


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        self.send_response(404 if self.path == "/quality" else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_warm_up_gets_every_page_once_the_server_answers() -> None:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status = warm_up(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert [p for p in _Recorder.seen if p != "/openapi.json"] == list(WARM_PATHS)
    assert status["/treatment"] == 200
    assert status["/quality"] == 404  # an error page is reported, not raised


def test_warm_up_gives_up_without_raising_when_nothing_answers() -> None:
    status = warm_up(f"http://127.0.0.1:{free_port()}", wait_s=0.3)
    assert set(status) == set(WARM_PATHS)
    assert all(v == "server did not answer" for v in status.values())


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("192.168.1.5", "http://192.168.1.5:8080"),
    ],
)
def test_local_base_url(bind: str, url: str) -> None:
    assert local_base_url(bind, 8080) == url


def test_warm_up_fills_the_console_cache(store_url: str) -> None:
    # against the real console: after the warm-up the Treatment page's result is kept,
    # so the first visitor's request computes nothing
    import uvicorn
    from fluxfleet.settings import Settings
    from fluxfleet.web import create_app

    rollups.clear()
    day_rollups.clear()
    assert rollups.kept() + day_rollups.kept() == 0
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(Settings(store=store_url)), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        status = warm_up(f"http://127.0.0.1:{port}", wait_s=60)
        assert all(v == 200 for v in status.values()), status
        # Treatment, Soil pCO2, Quality and Fluxes keep their results per day
        # the test store's Treatment result (it has no soil pCO2 or LI-COR reference file,
        # so those pages compute nothing to keep)
        assert day_rollups.kept() >= 1
    finally:
        server.should_exit = True
        thread.join(30)
