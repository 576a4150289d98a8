# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""A/B slot boot loader: signed manifest, streamed and verified download, confirm or revert.

At every boot (``boot.py`` calls :meth:`Loader.boot`):

1. Count the boot. If the active slot is still *pending* (a new version that has not yet
   confirmed itself) and has already had ``max_tries`` (3) boots, revert to the previous
   slot and remember the version as bad (it is not installed again).
2. Fetch ``<base>/manifest.json`` with a 20 s deadline. It is an envelope
   ``{"alg": "ed25519", "body": "<manifest JSON text>", "sig": "<128 hex>"}``; the
   signature over the body's bytes must verify with the fleet's public key. No answer,
   a bad envelope, a missing or wrong signature: run the cached version.
3. If the manifest names a version that is neither active nor bad, stream each file from
   ``<base>/bundles/<version>/<path>`` into the *inactive* slot as ``<path>.tmp``,
   hashing while streaming; check size and SHA-256, then rename. Only when every file
   verified is the envelope written into the slot, and only then is the pointer
   ``loader.json`` switched - written to a temp file and renamed (atomic on littlefs).
   Any failure leaves the active slot and the pointer untouched.
4. Before running a slot, verify it again (signature and every file's size and hash), so
   flash corruption is caught too; a slot that fails is never run - the previous one is
   tried, and with neither the loader reports ``slot=None`` (safe mode).

The running controller calls :meth:`Loader.confirm` (through ``hal.confirm()``) after its
first healthy chamber cycle (CO2 read, ring written) - local health, not the network. A
manifest naming the previous slot's version while the active one is unconfirmed is a
server-ordered rollback: the previous slot runs again at once. An
unconfirmed version is reverted only to a previous slot that verifies: with none (a
factory install) it keeps running. Any failure of the update path - a hostile reply, a
refused TLS certificate, a loader bug - runs the cached version. A lost or corrupt ``loader.json``
is rebuilt by verifying both slots. A manifest's optional ``min_version`` raises the
device's floor: an older signed bundle replayed later is refused. The watchdog (``wdt.feed()``) is
fed between every chunk and step; ``boot.py`` arms it before calling the loader.

Slot layout under ``root``: ``slot_a/manifest.json``, ``slot_a/app/<path>`` (a package
``app``: ``boot.py`` puts ``slot_a`` on ``sys.path`` and runs ``app.main``).
"""

import binascii
import hashlib
import json
import os

from . import ed25519

CHUNK = 1024
MAX_FILES = 200
MAX_FILE_BYTES = 512 * 1024
_SAFE = "abcdefghijklmnopqrstuvwxyz0123456789_./-"


class LoaderError(Exception):
    """A bundle that must not be run; ``what`` names the offending part."""

    def __init__(self, what, message):
        super().__init__(what + ": " + message)
        self.what = what
        self.message = message


class _OsFs:
    """The built-in file system (MicroPython's VFS); tests pass a littlefs image instead."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, a, b):
        os.rename(a, b)

    def remove(self, path):
        os.remove(path)

    def rmdir(self, path):
        os.rmdir(path)

    def mkdir(self, path):
        os.mkdir(path)

    def stat(self, path):
        return os.stat(path)

    def listdir(self, path):
        return os.listdir(path)


OS_FS = _OsFs()


def _exists(path, fs=OS_FS):
    try:
        fs.stat(path)
        return True
    except OSError:
        return False


def _isdir(path, fs=OS_FS):
    try:
        return fs.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _rmtree(path, fs=OS_FS):
    if not _exists(path, fs):
        return
    if _isdir(path, fs):
        for name in fs.listdir(path):
            _rmtree(path + "/" + name, fs)
        fs.rmdir(path)
    else:
        fs.remove(path)


def _makedirs(path, fs=OS_FS):
    parts = path.split("/")
    cur = ""
    for p in parts:
        if not p:
            cur = "/" if not cur else cur
            continue
        cur = p if cur == "" else (cur + p if cur.endswith("/") else cur + "/" + p)
        if not _exists(cur, fs):
            fs.mkdir(cur)


def _write_atomic(path, data, fs=OS_FS):
    tmp = path + ".tmp"
    f = fs.open(tmp, "wb")
    try:
        f.write(data)
    finally:
        f.close()
    fs.rename(tmp, path)


def _read(path, fs=OS_FS):
    f = fs.open(path, "rb")
    try:
        return f.read()
    finally:
        f.close()


def _hex(b):
    return binascii.hexlify(b).decode()


def version_key(ver):
    """Sort key of a version string: numeric parts compare as numbers ("6.10" > "6.9")."""
    key = []
    part = ""
    for c in ver + ".":
        if c in ".-+_":
            if part:
                key.append((0, int(part), "") if part.isdigit() else (1, 0, part))
            part = ""
        else:
            part += c
    return tuple(key)


def _check_version(ver, what):
    if not isinstance(ver, str) or not 0 < len(ver) <= 32:
        raise LoaderError(what, "must be a string of 1-32 characters")
    if ver[0] == ".":  # the version is a directory of the update server: no "..", no hidden
        raise LoaderError(what, "must not start with '.', got %r" % (ver,))
    for c in ver:
        if c not in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-+":
            raise LoaderError(what, "character %r is not allowed" % (c,))
    return ver


def check_path(path, what):
    """A bundle file path: relative, no '..', only [a-z0-9_./-], ends in .py or .json."""
    if not isinstance(path, str) or not 0 < len(path) <= 96:
        raise LoaderError(what, "path must be a non-empty string of at most 96 characters")
    for c in path:
        if c not in _SAFE:
            raise LoaderError(what, "character %r is not allowed in %r" % (c, path))
    if path.startswith("/") or ".." in path.split("/") or "//" in path:
        raise LoaderError(what, "path %r leaves the bundle" % (path,))
    if not (path.endswith(".py") or path.endswith(".json")):
        raise LoaderError(what, "only .py and .json files may be in a bundle, got %r" % (path,))
    return path


def parse_manifest(body):
    """Check a manifest body (bytes of JSON) and return it as a dict."""
    try:
        m = json.loads(body)
    except Exception:
        raise LoaderError("manifest.body", "not JSON")
    if not isinstance(m, dict):
        raise LoaderError("manifest.body", "not a JSON object")
    if m.get("v") != 1:
        raise LoaderError("manifest.v", "unsupported manifest version %r" % (m.get("v"),))
    ver = _check_version(m.get("version"), "manifest.version")
    if "min_version" in m:  # no device may go below it again (replay of an old bundle)
        mv = _check_version(m["min_version"], "manifest.min_version")
        if version_key(mv) > version_key(ver):
            raise LoaderError("manifest.min_version", "%r is above the version %r" % (mv, ver))
    files = m.get("files")
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        raise LoaderError("manifest.files", "must be a list of 1-%d files" % MAX_FILES)
    seen = {}
    for i in range(len(files)):
        f = files[i]
        what = "manifest.files[%d]" % i
        if not isinstance(f, dict):
            raise LoaderError(what, "not an object")
        check_path(f.get("path"), what + ".path")
        if f["path"] in seen:
            raise LoaderError(what + ".path", "duplicate %r" % (f["path"],))
        seen[f["path"]] = True
        size = f.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_BYTES:
            raise LoaderError(what + ".size", "must be an integer 0..%d" % MAX_FILE_BYTES)
        h = f.get("sha256")
        if not isinstance(h, str) or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
            raise LoaderError(what + ".sha256", "must be 64 lower-case hex digits")
    if "main.py" not in seen:
        raise LoaderError("manifest.files", "the bundle has no main.py")
    return m


def open_envelope(raw, public_key):
    """Verify a manifest envelope (bytes) with the fleet key; return the manifest dict."""
    try:
        env = json.loads(raw)
    except Exception:
        raise LoaderError("manifest", "not JSON")
    if not isinstance(env, dict) or not isinstance(env.get("body"), str):
        raise LoaderError("manifest.body", "missing: not a signed manifest envelope")
    sig = env.get("sig")
    if sig is None or sig == "":
        raise LoaderError("manifest.sig", "missing: the bundle is unsigned")
    if env.get("alg") != "ed25519":
        raise LoaderError("manifest.alg", "must be 'ed25519', got %r" % (env.get("alg"),))
    try:
        sig_b = binascii.unhexlify(sig)
    except Exception:
        raise LoaderError("manifest.sig", "not hex")
    body = env["body"].encode()
    if len(sig_b) != 64 or not ed25519.verify(public_key, body, sig_b):
        raise LoaderError("manifest.sig", "does not verify with the fleet key")
    return parse_manifest(body)


class Loader:
    def __init__(
        self,
        root,
        public_key,
        base_url,
        fetch,
        ticks_ms,
        wdt=None,
        log=None,
        manifest_timeout_ms=20000,
        download_timeout_ms=180000,
        max_tries=3,
        fs=None,
    ):
        self.root = root.rstrip("/") if root != "/" else ""
        self.key = public_key
        self.base = base_url.rstrip("/")
        self.fetch = fetch
        self.ticks_ms = ticks_ms
        self.wdt = wdt
        self.log = log or (lambda msg: None)
        self.manifest_timeout_ms = manifest_timeout_ms
        self.download_timeout_ms = download_timeout_ms
        self.max_tries = max_tries
        self.fs = fs if fs is not None else OS_FS
        weak = ed25519.check_public_key(public_key)
        if weak is not None:  # every signature check fails with it (see ed25519.verify)
            self.log("the fleet key in config.json is unusable: %s; no bundle verifies" % weak)
        self.state = self._load_state()

    # --- state -------------------------------------------------------------------------

    def _p(self, name):
        return self.root + "/" + name

    def _load_state(self):
        st = {
            "active": None,
            "prev": None,
            "pending": False,
            "tries": 0,
            "boots": 0,
            "bad": [],
            "floor": None,
        }
        # loader.json.tmp is complete when the rename was cut short (on FAT a rename over
        # an existing file is remove-then-rename): the newest state is the tmp file then
        for name in ("loader.json", "loader.json.tmp"):
            try:
                d = json.loads(_read(self._p(name), self.fs))
                if not isinstance(d, dict) or d.get("active") not in (None, "a", "b"):
                    continue
                for k in st:
                    if k in d:
                        st[k] = d[k]
                return st
            except Exception:
                continue
        return self._rebuild(st)

    def _rebuild(self, st):
        """No readable pointer: find the runnable slots by verifying both (never start blank)."""
        good = []
        for slot in ("a", "b"):
            if not _exists(self.slot_dir(slot) + "/manifest.json", self.fs):
                continue
            try:
                m = self.verify_slot(slot)
            except Exception as e:
                self.log("rebuilding loader.json: slot %s does not verify: %s" % (slot, e))
                continue
            good.append((version_key(m["version"]), slot, m))
        if not good:
            return st  # a factory-fresh device, or nothing runnable: install from the server
        good.sort()
        newest = good[-1]
        st["active"] = newest[1]
        for g in good:
            mv = g[2].get("min_version")
            if mv is not None and (
                st["floor"] is None or version_key(mv) > version_key(st["floor"])
            ):
                st["floor"] = mv
        if len(good) == 2:
            # the newer one may never have confirmed itself: it must, or the other one runs
            st["prev"] = good[0][1]
            st["pending"] = True
        self.log(
            "loader.json lost: rebuilt from the slots, running %s (slot %s)"
            % (newest[2]["version"], newest[1])
        )
        self.state = st
        self._save()
        return st

    def _save(self):
        _write_atomic(self._p("loader.json"), json.dumps(self.state).encode(), self.fs)

    def _feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def slot_dir(self, slot):
        return self._p("slot_" + slot)

    def slot_version(self, slot):
        try:
            env = json.loads(_read(self.slot_dir(slot) + "/manifest.json", self.fs))
            return json.loads(env["body"])["version"]
        except Exception:
            return None

    # --- verification -------------------------------------------------------------------

    def verify_slot(self, slot):
        """The slot's manifest if the slot is intact (signature, sizes, hashes); else raise."""
        d = self.slot_dir(slot)
        try:
            raw = _read(d + "/manifest.json", self.fs)
        except OSError:
            raise LoaderError("slot_" + slot, "no manifest")
        m = open_envelope(raw, self.key)
        self._feed()
        for i in range(len(m["files"])):
            f = m["files"][i]
            path = d + "/app/" + f["path"]
            h = hashlib.sha256()
            n = 0
            try:
                fh = self.fs.open(path, "rb")
            except OSError:
                raise LoaderError("slot_%s/app/%s" % (slot, f["path"]), "missing")
            try:
                while True:
                    b = fh.read(CHUNK)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
            finally:
                fh.close()
            self._feed()
            if n != f["size"] or _hex(h.digest()) != f["sha256"]:
                raise LoaderError("slot_%s/app/%s" % (slot, f["path"]), "size or hash changed")
        return m

    # --- download ---------------------------------------------------------------------

    def fetch_manifest(self):
        r = self.fetch(self.base + "/manifest.json", self.manifest_timeout_ms)
        try:
            if r.status != 200:
                raise LoaderError("manifest", "HTTP status %d" % r.status)
            chunks = []
            total = 0
            while True:
                b = r.read(CHUNK)
                if not b:
                    break
                total += len(b)
                if total > 64 * 1024:
                    raise LoaderError("manifest", "larger than 64 kB")
                chunks.append(b)
                self._feed()
            raw = b"".join(chunks)
        finally:
            r.close()
        return raw, open_envelope(raw, self.key)

    def _download(self, url, dest, size, sha, what, deadline):
        left = deadline - self.ticks_ms()
        if left <= 0:
            raise LoaderError(what, "download time is up")
        r = self.fetch(url, left)
        tmp = dest + ".tmp"
        h = hashlib.sha256()
        n = 0
        try:
            if r.status != 200:
                raise LoaderError(what, "HTTP status %d" % r.status)
            f = self.fs.open(tmp, "wb")
            try:
                while True:
                    b = r.read(CHUNK)
                    if not b:
                        break
                    n += len(b)
                    if n > size:
                        raise LoaderError(what, "longer than the manifest's %d bytes" % size)
                    h.update(b)
                    f.write(b)
                    self._feed()
            finally:
                f.close()
        finally:
            r.close()
        if n != size:
            raise LoaderError(what, "truncated: %d of %d bytes" % (n, size))
        if _hex(h.digest()) != sha:
            raise LoaderError(what, "SHA-256 does not match the manifest")
        self.fs.rename(tmp, dest)

    def install(self, slot, raw, m):
        """Download bundle ``m`` into ``slot``; the slot is valid only if this returns."""
        d = self.slot_dir(slot)
        _rmtree(d, self.fs)
        _makedirs(d + "/app", self.fs)
        deadline = self.ticks_ms() + self.download_timeout_ms
        for i in range(len(m["files"])):
            f = m["files"][i]
            dest = d + "/app/" + f["path"]
            parent = dest.rsplit("/", 1)[0]
            if not _exists(parent, self.fs):
                _makedirs(parent, self.fs)
            url = self.base + "/bundles/" + m["version"] + "/" + f["path"]
            self._download(url, dest, f["size"], f["sha256"], "manifest.files[%d]" % i, deadline)
        _write_atomic(d + "/manifest.json", raw, self.fs)

    # --- the boot decision -----------------------------------------------------------------

    def boot(self, update=True):
        """Decide what to run; returns {"slot", "path", "version", "boots", ...}.

        ``update=False`` skips the update server (``boot.py``'s fallback after a failure).
        """
        st = self.state
        st["boots"] += 1
        out = {"reverted": False, "updated": False, "reason": ""}
        if st["active"] is not None and st["pending"]:
            if st["tries"] >= self.max_tries and not self._runnable(st["prev"]):
                # nothing verified to go back to (a factory install, a lost old slot): keep
                # the only version - reverting to nothing would brick the chamber
                self.log(
                    "version %s has not confirmed itself in %d boots, but there is no verified "
                    "previous version: keeping it" % (self.slot_version(st["active"]), st["tries"])
                )
            elif st["tries"] >= self.max_tries:
                bad = self.slot_version(st["active"])
                self.log(
                    "version %s did not confirm itself in %d boots: reverting" % (bad, st["tries"])
                )
                if bad is not None and bad not in st["bad"]:
                    st["bad"].append(bad)
                    st["bad"] = st["bad"][-8:]
                st["active"], st["prev"] = st["prev"], None
                st["pending"] = False
                st["tries"] = 0
                out["reverted"] = True
            else:
                st["tries"] += 1
        self._save()
        self._feed()

        try:
            if not update:
                raise OSError("the update check is skipped")
            raw, m = self.fetch_manifest()
            ver = m["version"]
            active_ver = self.slot_version(st["active"]) if st["active"] else None
            if ver == active_ver:
                out["reason"] = "up to date"
            elif ver in st["bad"]:
                out["reason"] = "version %s was reverted before; not installing it again" % ver
            elif (
                st["pending"]
                and st["prev"] is not None
                and ver == self.slot_version(st["prev"])
                and self._runnable(st["prev"])
            ):
                # the server names the previous version while the new one has not confirmed
                # itself: a rollback (fluxfleet rollout) - run the previous slot again now
                # instead of after max_tries boots (it is installed and verified already)
                st["active"], st["prev"] = st["prev"], None
                st["pending"] = False
                st["tries"] = 0
                self._save()
                out["reverted"] = True
                out["reason"] = "rolled back to %s: the server names it again" % ver
            elif st["pending"] and self._runnable(st["prev"]):
                # the other slot holds the last confirmed version, the only fallback: it is
                # not overwritten until the running one confirmed itself (or was reverted)
                out["reason"] = "version %s waits: %s has not confirmed itself yet" % (
                    ver,
                    active_ver,
                )
            elif st["floor"] is not None and version_key(ver) < version_key(st["floor"]):
                out["reason"] = (
                    "update refused: version %s is older than the minimum %s "
                    % (
                        ver,
                        st["floor"],
                    )
                    + "a newer bundle set (an old signed bundle replayed?)"
                )
            else:
                slot = "b" if st["active"] == "a" else "a"
                if st["prev"] == slot:
                    st["prev"] = None  # about to be overwritten
                    self._save()
                self.install(slot, raw, m)
                self.verify_slot(slot)
                st["prev"] = st["active"]
                st["active"] = slot
                st["pending"] = True
                st["tries"] = 1
                mv = m.get("min_version")
                if mv is not None and (
                    st["floor"] is None or version_key(mv) > version_key(st["floor"])
                ):
                    st["floor"] = mv
                self._save()  # the atomic pointer switch
                out["updated"] = True
                out["reason"] = "installed %s into slot %s" % (ver, slot)
        except LoaderError as e:
            out["reason"] = "update refused: " + str(e)
        except OSError as e:
            out["reason"] = "update server unavailable (%s): running the cached version" % (e,)
        except Exception as e:  # a hostile or broken reply must never stop the cached version
            out["reason"] = "update failed (%r): running the cached version" % (e,)
        self.log(out["reason"])
        self._feed()

        for slot in (st["active"], st["prev"]):
            if slot is None:
                continue
            try:
                m = self.verify_slot(slot)
            except Exception as e:  # LoaderError, or flash errors: never run what fails
                self.log("not running slot %s: %s" % (slot, e))
                if slot == st["active"]:
                    st["active"], st["prev"] = st["prev"], None
                    st["pending"] = False
                    st["tries"] = 0
                    self._save()
                continue
            out["slot"] = slot
            out["path"] = self.slot_dir(slot)
            out["version"] = m["version"]
            out["boots"] = st["boots"]
            out["pending"] = st["pending"]
            return out
        out["slot"] = None
        out["path"] = None
        out["version"] = None
        out["boots"] = st["boots"]
        out["pending"] = False
        return out

    def _runnable(self, slot):
        if slot is None:
            return False
        try:
            self.verify_slot(slot)
            return True
        except Exception as e:
            self.log("slot %s cannot be reverted to: %s" % (slot, e))
            return False

    # --- the update path of the active slot (boot.py, defect #10) ---------------------------

    def own_update_path(self, max_unfinished=3):
        """The active slot's version if boot.py may run that slot's own loader, else None.

        Only this (golden) loader decides: the version must have confirmed itself (not
        pending), the slot must verify (signature, sizes, hashes) and carry ``loader.py``,
        ``http.py`` and ``ed25519.py``; its version must not be bad. ``loader.try`` counts
        the boots on which that loader started and never came back (a hang the watchdog
        reset, a hard crash): after ``max_unfinished`` of them the version is rejected
        (:meth:`reject`) and the golden loader runs instead.
        """
        slot = self.state["active"]
        if slot is None or self.state["pending"]:
            # an unconfirmed version's loader never decides about its own revert: only
            # once its app has confirmed itself does its update path take over
            return None
        try:
            m = self.verify_slot(slot)
        except Exception as e:
            self.log("slot %s does not verify: the golden loader runs (%s)" % (slot, e))
            return None
        ver = m["version"]
        if ver in self.state["bad"]:
            return None
        paths = [f["path"] for f in m["files"]]
        for need in ("loader.py", "http.py", "ed25519.py"):
            if need not in paths:
                return None
        n = 0
        try:
            t = json.loads(_read(self._p("loader.try"), self.fs))
            if t.get("version") == ver:
                n = int(t.get("n", 0))
        except Exception:
            pass
        if n >= max_unfinished:
            self.reject(ver, "its loader started %d times and never finished" % n)
            return None
        _write_atomic(
            self._p("loader.try"), json.dumps({"version": ver, "n": n + 1}).encode(), self.fs
        )
        return ver

    def update_path_done(self):
        """The slot's loader came back with a decision: it is not hanging at boot."""
        try:
            self.fs.remove(self._p("loader.try"))
        except OSError:
            pass

    def reject(self, ver, why):
        """Version ``ver``'s own update path failed at boot: never use it (nor install it) again.

        The version becomes bad; if it is the active slot and the previous slot verifies,
        that one becomes active again (a release whose loader crashes is a bad release).
        Without a verified previous slot the version keeps running, with the golden loader.
        """
        st = self.state
        self.log("the loader of version %s failed (%s): the golden loader takes over" % (ver, why))
        if ver not in st["bad"]:
            st["bad"].append(ver)
            st["bad"] = st["bad"][-8:]
        if (
            st["active"] is not None
            and self.slot_version(st["active"]) == ver
            and self._runnable(st["prev"])
        ):
            st["active"], st["prev"] = st["prev"], None
            st["pending"] = False
            st["tries"] = 0
        self._save()
        self.update_path_done()

    def confirm(self):
        """The running version works: make it permanent (no revert)."""
        if self.state["pending"]:
            self.state["pending"] = False
            self.state["tries"] = 0
            self._save()
