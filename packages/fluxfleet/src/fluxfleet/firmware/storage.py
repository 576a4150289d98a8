# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Persistent storage for the controller: small named values and fixed-size blobs.

Two implementations of one narrow interface:

* :class:`FileStore` keeps everything as files in one directory (the device's flash
  file system under MicroPython; a temporary directory in host tests).
* :class:`MemoryStore` keeps everything in RAM (the simulator, where thousands of virtual
  devices must not write files every 3 s).

Interface (what the controller and the ring buffer use)::

    store.get(name) -> bytes or None          # a small value, None if never written
    store.put(name, data)                     # atomic: temp file + rename
    store.append(name, data)                  # add to the end of a file (created if new)
    store.size(name) -> int or None           # bytes in file ``name``, None if absent
    store.read(name, offset, n) -> bytes      # n bytes (fewer at the end) from offset
    store.names(prefix) -> [name, ...]        # the files whose name starts with prefix
    store.remove(name)
    store.blob(name, size) -> blob            # legacy fixed-size region (old ring.dat)

Names are plain file names (``[a-z0-9_.]``), no directories.

Why appends and not a blob: on littlefs (the ESP32 port's file system) a write into the
middle of a file copies the rest of the file (copy-on-write), so the old in-place ring
cost ~60 block erases per sample. An append copies at most the last, partial block.

``FileStore(root, fs=None)``: ``fs`` is the file system (``open``, ``rename``, ``remove``,
``stat``, ``listdir``, ``mkdir``); by default the built-in ``open`` and ``os`` (the
device's VFS). The host tests pass a littlefs image there (``littlefs-python``).
"""

import os


class OsFs:
    """The built-in file system: MicroPython's VFS on the device, the OS on a host."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, a, b):
        os.rename(a, b)

    def remove(self, path):
        os.remove(path)

    def stat(self, path):
        return os.stat(path)

    def listdir(self, path):
        return os.listdir(path)

    def mkdir(self, path):
        os.mkdir(path)


_OS = OsFs()


def _join(root, name):
    if root.endswith("/"):
        return root + name
    return root + "/" + name


def _exists(path, fs=_OS):
    try:
        fs.stat(path)
        return True
    except OSError:
        return False


class FileBlob:
    def __init__(self, path, size, fs=_OS):
        self.path = path
        self.size = size
        if not _exists(path, fs):
            f = fs.open(path, "wb")
            chunk = bytes(512)
            left = size
            while left > 0:
                n = 512 if left > 512 else left
                f.write(chunk[:n])
                left -= n
            f.close()
        self._f = fs.open(path, "r+b")

    def read(self, offset, n):
        self._f.seek(offset)
        return self._f.read(n)

    def write(self, offset, data):
        if offset < 0 or offset + len(data) > self.size:
            raise ValueError("blob write outside 0..%d" % self.size)
        self._f.seek(offset)
        self._f.write(data)
        self._f.flush()

    def close(self):
        self._f.close()


class FileStore:
    """Named values and files in directory ``root`` (created if missing) of ``fs``."""

    def __init__(self, root, fs=None):
        self.root = root
        self.fs = fs if fs is not None else _OS
        if not _exists(root, self.fs):
            self.fs.mkdir(root)
        self._blobs = {}

    def _path(self, name):
        return _join(self.root, name)

    def get(self, name):
        fs = self.fs
        path = self._path(name)
        for p in (path, path + ".tmp"):
            # name.tmp is the newest complete value when a rename was cut short (on FAT a
            # rename over an existing file is remove-then-rename)
            try:
                f = fs.open(p, "rb")
            except OSError:
                continue
            try:
                return f.read()
            finally:
                f.close()
        return None

    def put(self, name, data):
        path = self._path(name)
        tmp = path + ".tmp"
        f = self.fs.open(tmp, "wb")
        try:
            f.write(data)
        finally:
            f.close()
        self.fs.rename(tmp, path)  # atomic on littlefs and POSIX

    def append(self, name, data):
        f = self.fs.open(self._path(name), "ab")
        try:
            f.write(data)
        finally:
            f.close()  # littlefs commits the file (atomically) on close

    def size(self, name):
        try:
            return self.fs.stat(self._path(name))[6]
        except OSError:
            return None

    def read(self, name, offset, n):
        f = self.fs.open(self._path(name), "rb")
        try:
            f.seek(offset)
            return f.read(n)
        finally:
            f.close()

    def names(self, prefix):
        return [n for n in self.fs.listdir(self.root) if n.startswith(prefix)]

    def remove(self, name):
        try:
            self.fs.remove(self._path(name))
        except OSError:
            pass

    def blob(self, name, size):
        b = self._blobs.get(name)
        if b is None:
            b = FileBlob(self._path(name), size, self.fs)
            self._blobs[name] = b
        return b

    def close(self):
        for b in self._blobs.values():
            b.close()
        self._blobs = {}


class MemoryBlob:
    def __init__(self, size):
        self.size = size
        self.buf = bytearray(size)

    def read(self, offset, n):
        return bytes(self.buf[offset : offset + n])

    def write(self, offset, data):
        if offset < 0 or offset + len(data) > self.size:
            raise ValueError("blob write outside 0..%d" % self.size)
        self.buf[offset : offset + len(data)] = data


class MemoryStore:
    """The same interface in RAM; survives a simulated reboot if the object is kept."""

    def __init__(self):
        self.values = {}
        self.blobs = {}

    def get(self, name):
        return self.values.get(name)

    def put(self, name, data):
        self.values[name] = bytes(data)

    def remove(self, name):
        self.values.pop(name, None)

    def append(self, name, data):
        self.values[name] = self.values.get(name, b"") + bytes(data)

    def size(self, name):
        v = self.values.get(name)
        return None if v is None else len(v)

    def read(self, name, offset, n):
        v = self.values.get(name)
        if v is None:
            raise OSError(2, "ENOENT: " + name)
        return v[offset : offset + n]

    def names(self, prefix):
        return [n for n in self.values if n.startswith(prefix)]

    def blob(self, name, size):
        b = self.blobs.get(name)
        if b is None:
            b = MemoryBlob(size)
            self.blobs[name] = b
        return b
