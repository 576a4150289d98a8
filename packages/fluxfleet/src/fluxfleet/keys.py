"""Fleet signing keys and firmware bundles (release side; the devices only verify).

Threat model and choice of signature
------------------------------------
The loader runs whatever the update server offers, so the server and the network path
are the attack surface. A bundle carries an Ed25519 signature over its manifest (which
holds every file's size and SHA-256). Each chamber stores only the fleet's 32-byte
*public* key; the private key stays on the release machine. A stolen chamber, a
compromised update server or a man in the middle can therefore not make the fleet run
their code: without the private key they cannot produce a manifest that verifies.

HMAC-SHA256 with a per-fleet secret would be ~1000x cheaper on the ESP32, but every
device would hold the secret, and any one chamber pulled out of the greenhouse (they sit
unattended on pots) would give an attacker the power to sign bundles for the whole
fleet. Ed25519 verification in pure MicroPython costs about one to a few seconds per
boot (estimated; see ``firmware/ed25519.py``) - affordable once per boot.

What the signature alone does not cover: replay of an *older* validly signed bundle (a
downgrade) by whoever controls the server or the network. A manifest's ``min_version``
(``fluxfleet bundle --min-version``) closes it from the release side: a device that
installed it keeps the highest ``min_version`` seen as a floor and refuses any older
bundle. Besides, the loader never re-installs a version that it reverted, and ``meta``
reports the running version so a downgrade is visible.
Key loss means re-provisioning every chamber with a new public key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fluxfleet.firmware import loader

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
# Stage-0 files stay on the device's flash and are never part of an update bundle.
NOT_IN_BUNDLE = frozenset({"boot.py"})


class ReleaseError(ValueError):
    """A key or bundle that must not be written; ``field`` names the file or setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``path`` so that it holds either its old content or all of ``data``.

    A temporary file in the same directory (created with ``mode``, flushed to disk) is
    renamed over ``path``; readers never see a partial file.
    """
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class FleetKey:
    """An Ed25519 key pair; ``public_hex`` is what each chamber is provisioned with."""

    private: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_hex(self) -> str:
        return self.public_bytes.hex()

    def private_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate_key() -> FleetKey:
    """A new fleet key pair."""
    return FleetKey(Ed25519PrivateKey.generate())


def save_key(key: FleetKey, path: Path) -> None:
    """Write the private key (PEM, mode 0600) and ``<path>.pub`` (hex public key).

    Each file is written atomically (:func:`write_atomic`); the private key never
    exists on disk with a wider mode than 0600, not even as a temporary file.
    """
    write_atomic(path, key.private_pem(), 0o600)
    write_atomic(Path(str(path) + ".pub"), (key.public_hex + "\n").encode())


def load_key(path: Path) -> FleetKey:
    """Read a private key written by :func:`save_key`; :class:`ReleaseError` names the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReleaseError(str(path), "no such file") from None
    except OSError as exc:
        raise ReleaseError(str(path), f"cannot read it ({exc.strerror})") from None
    try:
        k = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ReleaseError(
            str(path), "the key is encrypted; a fleet key is stored without a passphrase"
        ) from None
    except ValueError:
        raise ReleaseError(
            str(path), "not a PEM private key (expected a file `fluxfleet keys generate` wrote)"
        ) from None
    if not isinstance(k, Ed25519PrivateKey):
        raise ReleaseError(str(path), f"not an Ed25519 private key ({type(k).__name__})")
    return FleetKey(k)


def bundle_files(src: Path = FIRMWARE_DIR) -> list[Path]:
    """The firmware files that go into an update bundle (paths relative to ``src``)."""
    out = []
    for p in sorted(src.rglob("*.py")):
        rel = p.relative_to(src)
        if "__pycache__" in rel.parts or rel.as_posix() in NOT_IN_BUNDLE:
            continue
        out.append(rel)
    return out


def build_manifest(
    version: str, src: Path = FIRMWARE_DIR, created_ms: int = 0, min_version: str | None = None
) -> dict[str, object]:
    """The manifest of bundle ``version`` made of the files under ``src``.

    ``min_version`` (optional) becomes the devices' floor once they install this bundle:
    the loader then refuses any signed bundle older than it (a replayed old release).
    """
    files = []
    for rel in bundle_files(src):
        data = (src / rel).read_bytes()
        files.append(
            {"path": rel.as_posix(), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
    m: dict[str, object] = {"v": 1, "version": version, "created_ms": created_ms, "files": files}
    if min_version is not None:
        m["min_version"] = min_version
    return m


def sign_manifest(manifest: dict[str, object], key: FleetKey) -> bytes:
    """The signed envelope (bytes of JSON) the loader fetches as ``manifest.json``."""
    body = json.dumps(manifest, separators=(",", ":"), sort_keys=True)
    sig = key.private.sign(body.encode())
    env = {"alg": "ed25519", "body": body, "sig": sig.hex()}
    return json.dumps(env, separators=(",", ":")).encode()


def _same_files(a: Path, b: Path) -> bool:
    def listing(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    return listing(a) == listing(b)


def write_bundle(
    out: Path,
    version: str,
    key: FleetKey,
    src: Path = FIRMWARE_DIR,
    created_ms: int = 0,
    min_version: str | None = None,
) -> Path:
    """Publish bundle ``version`` into the update server's directory ``out``.

    Before anything is written, the manifest is checked with the device loader's own
    ``parse_manifest`` and the signed envelope with its ``open_envelope`` (the
    pure-Python Ed25519 the chambers run), so a bundle the fleet would refuse is never
    published. Then the files go to a staging directory that is renamed to
    ``out/bundles/<version>`` in one step, the signed manifest is kept as
    ``out/manifests/<version>.json`` (what a rollout serves to the devices it assigns
    that version) and ``out/manifest.json`` is replaced last
    (:func:`write_atomic`): a device sees either the old manifest or a new one whose
    files are all there. A published version is immutable: publishing ``version`` again
    with different files raises :class:`ReleaseError` (the same files: only the
    manifest is re-signed). ``min_version`` goes into the signed manifest (the loader
    checks it has the version's grammar and is not above it). Errors name the setting
    (``version``, ``min_version``, ``src``) or the file.
    """
    if not src.is_dir():
        raise ReleaseError(str(src), "no such firmware directory")
    if not bundle_files(src):
        raise ReleaseError(str(src), "no .py files to bundle")
    if out.exists() and not out.is_dir():
        raise ReleaseError(str(out), "exists and is not a directory")
    manifest = build_manifest(version, src, created_ms, min_version)
    envelope = sign_manifest(manifest, key)
    try:
        body = loader.open_envelope(envelope, key.public_bytes)  # exactly what a device does
    except loader.LoaderError as exc:
        field = {"manifest.version": "version", "manifest.min_version": "min_version"}.get(
            exc.what, exc.what
        )
        if field.startswith("manifest.files"):
            field = f"{src} ({field})"
        raise ReleaseError(field, exc.message) from None
    if body["version"] != version:  # pragma: no cover - open_envelope returns what was signed
        raise ReleaseError("version", "signed manifest does not carry the version")
    if body.get("min_version") != min_version:  # pragma: no cover - as above
        raise ReleaseError("min_version", "signed manifest does not carry the minimum version")
    bundles = out / "bundles"
    bundles.mkdir(parents=True, exist_ok=True)
    dest = bundles / version
    stage = Path(tempfile.mkdtemp(prefix="." + version + ".", suffix=".tmp", dir=bundles))
    try:
        for rel in bundle_files(src):
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((src / rel).read_bytes())
        stage.chmod(0o755)
        if dest.exists():
            if not _same_files(dest, stage):
                raise ReleaseError(
                    "version",
                    f"{version} is already published in {dest} with different files; a "
                    "released version is never changed (devices that run it would not "
                    "update): use a new version",
                )
        else:
            stage.rename(dest)  # atomic: the version's directory appears complete
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    # every version's signed manifest stays servable (``fluxfleet serve --bundles``: a
    # rollout assigns versions per device; fluxfleet.ops.firmware)
    (out / "manifests").mkdir(exist_ok=True)
    write_atomic(out / "manifests" / f"{version}.json", envelope)
    write_atomic(out / "manifest.json", envelope)
    return out / "manifest.json"
