# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Stage 0 on the device (copied to ``/boot.py`` at provisioning; never updated over the air).

1. ``Board()`` arms the hardware watchdog (30 s) before anything else.
2. Join WiFi (at most 15 s), then ``loader.Loader.boot()``: fetch the signed manifest
   (20 s budget), install a new version into the other A/B slot if there is one, revert
   an unconfirmed version after 3 boots, verify the slot it will run.
3. Put the chosen slot on ``sys.path`` and run ``app.main.run(board, info)``, which feeds
   the watchdog from then on. With no runnable slot: safe mode - show why, keep the
   watchdog fed for a minute, reset and try again.
4. Last resort: any exception out of the update path (a loader bug, a hostile reply the
   loader did not foresee, no RAM) starts the cached version without the network; an
   app that fails to start is a controlled reset (counted by the loader's 3 tries),
   never an exception that leaves the watchdog to reset a stuck board.

The golden copy of the loader lives in the ``/firmware`` package on flash (installed at
provisioning together with this file and ``/config.json``).
"""

import sys

from firmware import http, loader
from firmware.hal import core2


def choose(board, update):
    """The loader's decision; ``update=False`` runs the cached version without the network."""
    cfg = board.config

    def fetch(url, timeout_ms):
        return http.get(board.tcp, url, timeout_ms, board.clock.ticks_ms, board.feed)

    ld = loader.Loader(
        cfg.get("flash_root", "/"),
        bytes.fromhex(cfg["fleet_key"]),
        cfg["update_url"],
        fetch,
        board.clock.ticks_ms,
        board.wdt,
        board.log,
    )
    d = ld.boot(update)
    board.confirm_cb = ld.confirm
    return d


def safe_mode(board, why):
    """Nothing runnable: show why, keep the watchdog fed for a minute, reset, try again."""
    board.show_text("no runnable firmware: " + why)
    for _ in range(60):
        board.feed()
        board.sleep_ms(1000)
    board.reboot()


def main():
    board = core2.Board()
    try:
        board.show_text("fluxfleet: joining WiFi")
        board.wait_net(15000)
        d = choose(board, True)
    except Exception as e:  # last resort: whatever the update path did, run the cached version
        board.log("update path failed (%r): starting the cached version" % (e,))
        try:
            d = choose(board, False)
        except Exception as e2:
            d = {"slot": None, "reason": "loader failed: %r" % (e2,)}
    if d["slot"] is None:
        safe_mode(board, d["reason"])
        return
    sys.path.insert(0, d["path"])
    board.show_text("starting %s (slot %s)" % (d["version"], d["slot"]))
    try:
        import app.main

        app.main.run(board, d)
    except Exception as e:  # an app that cannot start: a controlled reset, counted by the loader
        board.log("app failed: %r" % (e,))
        safe_mode(board, "app failed: %r" % (e,))


main()
