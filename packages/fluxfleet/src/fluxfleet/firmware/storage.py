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
    store.blob(name, size) -> blob            # a fixed-size random-access region
    blob.read(offset, n) -> bytes
    blob.write(offset, data)                  # not atomic; callers add their own CRC

Names are plain file names (``[a-z0-9_.]``), no directories.
"""

import os


def _join(root, name):
    if root.endswith("/"):
        return root + name
    return root + "/" + name


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class FileBlob:
    def __init__(self, path, size):
        self.path = path
        self.size = size
        if not _exists(path):
            f = open(path, "wb")
            chunk = bytes(512)
            left = size
            while left > 0:
                n = 512 if left > 512 else left
                f.write(chunk[:n])
                left -= n
            f.close()
        self._f = open(path, "r+b")

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
    """Named values and blobs as files in directory ``root`` (created if missing)."""

    def __init__(self, root):
        self.root = root
        if not _exists(root):
            os.mkdir(root)
        self._blobs = {}

    def get(self, name):
        try:
            f = open(_join(self.root, name), "rb")
        except OSError:
            return None
        try:
            return f.read()
        finally:
            f.close()

    def put(self, name, data):
        path = _join(self.root, name)
        tmp = path + ".tmp"
        f = open(tmp, "wb")
        try:
            f.write(data)
        finally:
            f.close()
        os.rename(tmp, path)  # atomic on littlefs and POSIX

    def remove(self, name):
        try:
            os.remove(_join(self.root, name))
        except OSError:
            pass

    def blob(self, name, size):
        b = self._blobs.get(name)
        if b is None:
            b = FileBlob(_join(self.root, name), size)
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

    def blob(self, name, size):
        b = self.blobs.get(name)
        if b is None:
            b = MemoryBlob(size)
            self.blobs[name] = b
        return b
