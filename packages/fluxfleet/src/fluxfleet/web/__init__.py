"""The fluxfleet web console (``fluxfleet serve``): pages and a JSON/CSV/Parquet API over
the store. Start with :func:`fluxfleet.web.app.create_app`; docs/fleet/console.md.

Nothing is imported here, so that the CLI starts without loading the web stack.
"""

from __future__ import annotations

from typing import Any


def create_app(settings: Any, **options: Any) -> Any:
    """See :func:`fluxfleet.web.app.create_app`."""
    from fluxfleet.web.app import create_app as create

    return create(settings, **options)
