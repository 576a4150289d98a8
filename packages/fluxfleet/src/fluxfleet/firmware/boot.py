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

5. With a ``tls`` section in ``config.json`` (``tls.py``) the update URL must be
   ``https://``; the fetch verifies the server against the pinned fleet CA, and a refused
   certificate is an update failure (the cached version runs), never a plaintext retry.

6. The update path itself is updatable (defect #10): the golden loader first verifies the
   active slot; if that slot carries its own ``loader``/``http``/``ed25519`` (and that
   version is not bad), those run the update instead of the golden copies. A slot loader
   that fails to import, raises, or returns no decision is rejected (its version becomes
   bad, the previous slot runs if it verifies) and the golden loader takes over at once;
   one that hangs until the watchdog resets is rejected after 3 such boots
   (``loader.json``'s sibling ``loader.try`` counts them). ``hal/core2`` stays the golden
   copy: it arms the watchdog before anything on flash is read.

The golden copy of the loader lives in the ``/firmware`` package on flash (installed at
provisioning together with this file and ``/config.json``).
"""

import sys

from firmware import http, loader, tls
from firmware.hal import core2


def make_loader(board, loader_mod, http_mod):
    """A ``Loader`` of module ``loader_mod`` fetching with ``http_mod`` (golden or a slot's)."""
    cfg = board.config

    def fetch(url, timeout_ms):
        # with a tls section an http:// update URL is refused (an OSError: the cached
        # version runs, the reason is logged), never fetched in plaintext
        tls.refuse_plaintext(url, "tls" in cfg)
        return http_mod.get(board.tcp, url, timeout_ms, board.clock.ticks_ms, board.feed)

    return loader_mod.Loader(
        cfg.get("flash_root", "/"),
        bytes.fromhex(cfg["fleet_key"]),
        cfg["update_url"],
        fetch,
        board.clock.ticks_ms,
        board.wdt,
        board.log,
    )


def forget_app(path):
    """Drop the ``app`` package (a slot's modules) so the chosen slot imports afresh."""
    for name in list(sys.modules):
        if name == "app" or name.startswith("app."):
            del sys.modules[name]
    while path in sys.path:
        sys.path.remove(path)


def choose(board, update, loader_mod=loader, http_mod=http):
    """The loader's decision; ``update=False`` runs the cached version without the network."""
    ld = make_loader(board, loader_mod, http_mod)
    d = ld.boot(update)
    if not isinstance(d, dict) or "slot" not in d:
        raise ValueError("the loader returned no decision: %r" % (d,))
    board.confirm_cb = ld.confirm
    return d


def choose_with_own_loader(board):
    """Run the update with the active slot's own loader when the golden loader allows it.

    Returns the decision, or None when the golden loader must decide (no slot loader, or it
    failed: then its version is rejected before returning).
    """
    golden = make_loader(board, loader, http)
    ver = golden.own_update_path()
    if ver is None:
        return None
    path = golden.slot_dir(golden.state["active"])
    sys.path.insert(0, path)
    try:
        import app.http
        import app.loader

        d = choose(board, True, app.loader, app.http)
        if d["slot"] is None:
            raise ValueError("it found no runnable slot: " + str(d.get("reason")))
    except Exception as e:  # a bad new loader never bricks: the golden copy takes over
        forget_app(path)
        make_loader(board, loader, http).reject(ver, repr(e))
        return None
    forget_app(path)
    make_loader(board, loader, http).update_path_done()
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
        d = None
        try:
            d = choose_with_own_loader(board)
        except Exception as e:  # the golden checks themselves failed: the golden loader runs
            board.log("own loader check failed (%r)" % (e,))
        if d is None:
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
