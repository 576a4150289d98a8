"""The console as it runs beside a live ingestor, for ``benchmarks/web.py --live``: one
process holds the DuckDB store writable and shares it with the console
(:func:`fluxfleet.web.store_access.share`, as ``fluxfleet demo`` does), and stores one new
flux (``Store.write_fluxes``, the ingestor's write) each time a line ``flux`` arrives on
stdin, answering ``ok <CPU s of the write>`` on stdout. A new flux is a new closure in the
store's newest day (a chamber's next cycle); ``clean`` deletes the fluxes it wrote and
answers ``ok 0``.

    python benchmarks/web_live_server.py duckdb:///PATH PORT ANALYSIS
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODEL = "bench-live"
"""The ``model`` of the fluxes written here (deleted by ``clean``)."""
FIRST_CYC = 2_000_000_000


def new_flux(store: object, i: int) -> pa.Table:
    """The i-th new flux: chamber i mod n's next closure, 5 min before the newest start
    (so in the newest day) plus i seconds; not flagged, so every analysis counts it."""
    from fluxfleet.store import schema

    newest = store.select(  # type: ignore[attr-defined]
        'SELECT * FROM fluxes WHERE model <> ? ORDER BY "start" DESC, device LIMIT 50', [MODEL]
    ).to_pylist()
    row = dict(newest[i % len(newest)])
    now = dt.datetime.now(dt.UTC)
    start = max(r["start"] for r in newest) - dt.timedelta(seconds=300 - i % 290)
    row.update(
        cyc=FIRST_CYC + i,
        start=start,
        end=start + dt.timedelta(seconds=177),
        flags="",
        model=MODEL,
        computed=now.replace(microsecond=now.microsecond // 1000 * 1000),  # the store's ms
    )
    return pa.Table.from_pylist([row]).select(schema.FLUXES.names).cast(schema.FLUXES)


def main() -> None:
    import uvicorn
    from fluxfleet.settings import Settings
    from fluxfleet.store import open_store
    from fluxfleet.web import create_app
    from fluxfleet.web.store_access import share

    url, port, analysis = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    store = open_store(url)
    share(store)
    app = create_app(Settings(store=url, analysis=analysis))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    i = 0
    for line in sys.stdin:
        c0 = time.process_time()
        if line.strip() == "flux":
            store.write_fluxes(new_flux(store, i))
            i += 1
        elif line.strip() == "clean":
            store.execute([("DELETE FROM fluxes WHERE model = ?", [MODEL])])
        print(f"ok {time.process_time() - c0:.4f}", flush=True)
    server.should_exit = True
    thread.join(30)
    store.close()


if __name__ == "__main__":
    main()
