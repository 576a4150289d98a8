"""Firmware over HTTP: the signed manifests and files the chambers' loader fetches, and
the rollouts' API (:mod:`fluxfleet.ops.firmware`, :mod:`fluxfleet.ops.rollout`).

Served only when ``fluxfleet serve --bundles DIR`` names a bundle directory. The loader
speaks HTTP/1.0 and reads a ``Content-Length`` body: plain responses, never chunked.
"""

# No "from __future__ import annotations": FastAPI resolves the annotations at run time.

import logging
import threading
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from fluxfleet.firmware import protocol as _protocol
from fluxfleet.ops import firmware, rollout
from fluxfleet.store import Store, StoreError
from fluxfleet.web.auth import AUTH
from fluxfleet.web.store_access import open_console_store

protocol: Any = _protocol
log = logging.getLogger("fluxfleet.rollout")


class RolloutRequest(BaseModel):
    """``POST /api/rollouts``: what ``fluxfleet rollout`` takes."""

    version: str = Field(min_length=1, max_length=32)
    canaries: list[str] = Field(min_length=1)
    then_all_after: str | None = None
    window: str = "30m"


def _open(url: str, read_only: bool) -> Store:
    try:
        return open_console_store(url, read_only=read_only)
    except StoreError as exc:
        raise HTTPException(503, str(exc)) from None


def register(app: FastAPI, settings: Any) -> None:
    """Add the firmware routes (when ``settings.bundles`` is set) and the rollouts API."""
    url = settings.store_url
    bundles = firmware.BundleDir(settings.bundles) if settings.bundles is not None else None

    def _bundles() -> firmware.BundleDir:
        if bundles is None:
            raise HTTPException(404, "no firmware is served here (fluxfleet serve --bundles DIR)")
        return bundles

    def _json(raw: bytes | None, what: str) -> Response:
        if raw is None:
            raise HTTPException(404, f"no signed manifest for {what}")
        return Response(raw, media_type="application/json")

    def _file(version: str, path: str) -> Response:
        p = _bundles().file(version, path)
        if p is None:
            raise HTTPException(404, f"bundle {version!r} has no file {path!r}")
        return FileResponse(p, media_type="application/octet-stream")

    @app.get("/firmware/manifest.json")
    def newest_manifest() -> Response:
        return _json(_bundles().newest(), "the newest bundle")

    @app.get("/firmware/bundles/{version}/{path:path}")
    def bundle_file(version: str, path: str) -> Response:
        return _file(version, path)

    @app.get("/firmware/d/{device}/manifest.json")
    def device_manifest(device: str) -> Response:
        b = _bundles()
        try:
            protocol.check_device_id(device)
        except protocol.ProtocolError as exc:
            raise HTTPException(404, exc.message) from None
        st = _open(url, True)
        try:
            raw = firmware.manifest_for(st, b, device)
        finally:
            st.close()
        return _json(raw, f"device {device}")

    @app.get("/firmware/d/{device}/bundles/{version}/{path:path}")
    def device_bundle_file(device: str, version: str, path: str) -> Response:
        return _file(version, path)

    @app.get("/api/rollouts")
    def api_rollouts() -> Response:
        st = _open(url, True)
        try:
            return JSONResponse([r.to_json() for r in rollout.listing(st)])
        finally:
            st.close()

    @app.get("/api/rollouts/{rollout_id}")
    def api_rollout(rollout_id: str) -> Response:
        st = _open(url, True)
        try:
            r = rollout.status(st, rollout_id)
        finally:
            st.close()
        if r is None:
            raise HTTPException(404, f"no rollout {rollout_id!r}")
        return JSONResponse(r)

    @app.post("/api/rollouts", status_code=202, dependencies=AUTH)
    def api_start_rollout(body: RolloutRequest, request: Request) -> Response:
        """Start a rollout; a thread of this server drives it (``GET /api/rollouts/ID``)."""
        b = _bundles()
        try:
            plan = rollout.plan(
                body.version,
                body.canaries,
                body.window,
                body.then_all_after,
                f"token:{request.state.token_name}",
                b,
            )
        except rollout.RolloutError as exc:
            raise HTTPException(422, str(exc)) from None
        st = _open(url, True)
        try:
            running = rollout.active(st)
        finally:
            st.close()
        if running:
            raise HTTPException(409, f"rollout {running[0]} is still running")
        driver = rollout.Driver(url, settings, plan, b, log.info)

        def drive() -> None:
            try:
                driver.run()
            except Exception as exc:  # recorded as "aborted" in the store by the driver
                log.error("rollout %s stopped: %r", plan.rollout_id, exc)

        threading.Thread(target=drive, name=plan.rollout_id, daemon=True).start()
        return JSONResponse({"rollout_id": plan.rollout_id}, status_code=202)
