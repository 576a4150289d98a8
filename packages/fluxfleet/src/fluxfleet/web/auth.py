"""Bearer-token protection of the API's state-changing routes.

Every route that changes state (POST, PUT, PATCH, DELETE) depends on
:func:`require_token`: ``Authorization: Bearer <token>`` with a token made by
``fluxfleet tokens create NAME`` (:mod:`fluxfleet.ops.tokens`). No header (or not a
bearer one): 401 with ``WWW-Authenticate: Bearer``; a token that is unknown, malformed or
revoked: 403. The token's name becomes ``request.state.token_name`` (the operator of a
command or a rollout). Read-only views stay open: ``fluxfleet serve`` listens on
localhost unless ``--bind`` says otherwise (docs/fleet/console.md; tokens: docs/fleet/rollout.md).
"""

# No "from __future__ import annotations": FastAPI resolves the annotations at run time.

from fastapi import Depends, HTTPException, Request

from fluxfleet.ops import tokens
from fluxfleet.store import StoreError
from fluxfleet.web.store_access import open_console_store

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def require_token(request: Request) -> str:
    """The name of the request's valid bearer token; 401 without one, 403 when wrong."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(
            401,
            "this route changes state: it needs 'Authorization: Bearer <token>' "
            "(fluxfleet tokens create NAME)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    url = request.app.state.store_url
    try:
        st = open_console_store(url, read_only=True)
    except StoreError as exc:
        raise HTTPException(503, str(exc)) from None
    try:
        name = tokens.verify(st, value.strip())
    finally:
        st.close()
    if name is None:
        raise HTTPException(
            403, "the bearer token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.token_name = name
    return name


AUTH = [Depends(require_token)]
"""``dependencies=AUTH`` on every state-changing route (tests/ops/test_api_tokens.py
enumerates the app's routes and fails on one that lets a request through without it)."""
