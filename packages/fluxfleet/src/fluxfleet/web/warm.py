"""Warm the console's season results when ``fluxfleet serve`` starts.

The Treatment, Soil pCO₂ and Calibration pages are made of results over the whole season
(:mod:`fluxfleet.web.day_rollups`, :mod:`fluxfleet.web.rollups`): a new flux recomputes only
its day, but the first request after the server starts computes every day (seconds of CPU
on a season of 50 chambers). So the server asks for its own heavy pages once, in a
background thread, as soon as it answers — the first researcher to open them finds them
ready. Requests go through HTTP to the running server, so exactly the results the pages
use are kept (same keys, same store access), and a failure only leaves the cache cold.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

WARM_PATHS = ("/treatment", "/pco2", "/calibration", "/quality", "/fluxes")
"""The pages whose server-side results cover the season (default window)."""


def local_base_url(bind: str, port: int) -> str:
    """The URL at which this machine reaches a server bound to ``bind``:``port``."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(bind, bind)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def warm_up(
    base_url: str,
    paths: tuple[str, ...] = WARM_PATHS,
    *,
    wait_s: float = 60.0,
    timeout_s: float = 300.0,
) -> dict[str, int | str]:
    """GET each of ``paths`` from ``base_url`` once the server answers (polled for up to
    ``wait_s`` [s]); returns each path's HTTP status, or the error's text. Never raises."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(base_url + "/openapi.json", timeout=2):
                break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                return {p: "server did not answer" for p in paths}
            time.sleep(0.1)
    out: dict[str, int | str] = {}
    for path in paths:
        try:
            with urllib.request.urlopen(base_url + path, timeout=timeout_s) as r:
                r.read()
                out[path] = int(r.status)
        except urllib.error.HTTPError as exc:
            out[path] = int(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            out[path] = str(exc)
    return out


def start_warm_up(base_url: str) -> threading.Thread:
    """:func:`warm_up` in a daemon thread (it does not hold the server's exit)."""
    thread = threading.Thread(target=warm_up, args=(base_url,), name="warm-up", daemon=True)
    thread.start()
    return thread
