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

What the signature does not cover: replay of an *older* validly signed bundle (a
downgrade) by whoever controls the server or the network. The loader never re-installs a
version that it reverted, and ``meta`` reports the running version so a downgrade is
visible; TLS to the update server would close this gap but is not used yet.
Key loss means re-provisioning every chamber with a new public key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
# Stage-0 files stay on the device's flash and are never part of an update bundle.
NOT_IN_BUNDLE = frozenset({"boot.py"})


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
    """Write the private key (PEM, mode 0600) and ``<path>.pub`` (hex public key)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_pem())
    tmp.replace(path)
    Path(str(path) + ".pub").write_text(key.public_hex + "\n")


def load_key(path: Path) -> FleetKey:
    """Read a private key written by :func:`save_key`."""
    k = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(k, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
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
    version: str, src: Path = FIRMWARE_DIR, created_ms: int = 0
) -> dict[str, object]:
    """The manifest of bundle ``version`` made of the files under ``src``."""
    files = []
    for rel in bundle_files(src):
        data = (src / rel).read_bytes()
        files.append(
            {"path": rel.as_posix(), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
    return {"v": 1, "version": version, "created_ms": created_ms, "files": files}


def sign_manifest(manifest: dict[str, object], key: FleetKey) -> bytes:
    """The signed envelope (bytes of JSON) the loader fetches as ``manifest.json``."""
    body = json.dumps(manifest, separators=(",", ":"), sort_keys=True)
    sig = key.private.sign(body.encode())
    env = {"alg": "ed25519", "body": body, "sig": sig.hex()}
    return json.dumps(env, separators=(",", ":")).encode()


def write_bundle(
    out: Path, version: str, key: FleetKey, src: Path = FIRMWARE_DIR, created_ms: int = 0
) -> Path:
    """Publish bundle ``version`` into the update server's directory ``out``.

    Writes ``out/bundles/<version>/<files>`` first and ``out/manifest.json`` last (temp
    file + rename), so a device never sees a manifest whose files are not there yet.
    """
    manifest = build_manifest(version, src, created_ms)
    dest = out / "bundles" / version
    for rel in bundle_files(src):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes((src / rel).read_bytes())
        tmp.replace(target)
    envelope = sign_manifest(manifest, key)
    tmp = out / "manifest.json.tmp"
    tmp.write_bytes(envelope)
    tmp.replace(out / "manifest.json")
    return out / "manifest.json"
