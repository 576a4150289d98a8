# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Stage 0 on the device (copied to ``/boot.py`` at provisioning; never updated over the air).

1. ``Board()`` arms the hardware watchdog (30 s) before anything else.
2. Join WiFi (at most 15 s), then ``loader.Loader.boot()``: fetch the signed manifest
   (20 s budget), install a new version into the other A/B slot if there is one, revert
   an unconfirmed version after 3 boots, verify the slot it will run.
3. Put the chosen slot on ``sys.path`` and run ``app.main.run(board, info)``, which feeds
   the watchdog from then on. With no runnable slot: safe mode - show why, keep the
   watchdog fed for a minute, reset and try again.

The golden copy of the loader lives in the ``/firmware`` package on flash (installed at
provisioning together with this file and ``/config.json``).
"""

import sys
import time

from firmware import http, loader
from firmware.hal import core2


def main():
    board = core2.Board()
    cfg = board.config
    board.show_text("fluxfleet: joining WiFi")
    board.wait_net(15000)

    def fetch(url, timeout_ms):
        return http.get(board.tcp, url, timeout_ms, board.clock.ticks_ms, board.feed)

    ld = loader.Loader(
        "/",
        bytes.fromhex(cfg["fleet_key"]),
        cfg["update_url"],
        fetch,
        board.clock.ticks_ms,
        board.wdt,
        board.log,
    )
    d = ld.boot()
    board.confirm_cb = ld.confirm
    if d["slot"] is None:
        board.show_text("no runnable firmware: " + d["reason"])
        for _ in range(60):
            board.feed()
            time.sleep_ms(1000)
        board.reboot()
    sys.path.insert(0, d["path"])
    board.show_text("starting %s (slot %s)" % (d["version"], d["slot"]))
    import app.main

    app.main.run(board, d)


main()
