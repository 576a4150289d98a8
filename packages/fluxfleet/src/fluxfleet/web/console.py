"""What a page module needs from the app: :class:`Console`, passed to its ``register``.

Each page lives in its own module (``web/live.py``, ``web/quality.py``, …) with a
``register(app, console)`` function that adds its routes; ``create_app`` calls it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.templating import Jinja2Templates


@dataclass(frozen=True)
class Console:
    """The app's shared pieces: the store URL; ``store_dep``, the ``Depends(…)`` that opens
    the store for a request (read-only, closed after the answer; a route takes
    ``Annotated[Store, console.store_dep]``); the page templates; and the clock."""

    store_url: str
    store_dep: Any
    templates: Jinja2Templates
    clock: Callable[[], dt.datetime]
