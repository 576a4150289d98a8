"""The chamber's flash as the ESP32 port has it: littlefs on NOR flash, with power cuts.

The firmware's :class:`~fluxfleet.firmware.storage.FileStore` (and the loader) run on a
real littlefs image (``littlefs-python``, the C littlefs the ESP32 port mounts) with the
port's configuration: 4,096-byte blocks, 32-byte reads and programs, 128-byte cache,
``block_cycles`` 100 (MicroPython's ``extmod/vfs_lfs.c`` defaults). The block device
under it, :class:`NorFlash`, behaves like NOR flash and is as unforgiving:

* a program can only clear bits (``new = old & data``), an erase sets the block to 0xFF;
* it counts erases, programs and bytes programmed (wear);
* it can cut the power at any block operation (``cut_at``): that operation is torn (half
  a program lands, half a block is erased), nothing after it reaches the flash, and the
  next call of the firmware into the file system raises :class:`PowerCut` - a
  ``BaseException``, so no ``except Exception`` in the firmware can swallow it.

:class:`LfsFs` is the file-system object ``FileStore(root, fs)`` takes (``open``,
``rename``, ``remove``, ``stat``, ``listdir``, ``mkdir``), raising ``OSError`` where
MicroPython's VFS does.

Used by the host tests and ``benchmarks/ring_flash.py``; needs the dev dependency
``littlefs-python``.
"""

from __future__ import annotations

import errno
from typing import Any

import littlefs
from littlefs.context import UserContext
from littlefs.errors import LittleFSError

BLOCK_SIZE = 4096
"""The ESP32's flash erase sector [bytes], littlefs's block size on the ESP32 port."""

PARTITION_BLOCKS = 512
"""Blocks of a 2 MB file-system partition (2 MiB / 4,096 B)."""

LFS_CONFIG: dict[str, int] = {
    "read_size": 32,
    "prog_size": 32,
    "cache_size": 128,
    "lookahead_size": 32,
    "block_cycles": 100,
}
"""MicroPython's littlefs v2 configuration (``vfs.VfsLfs2`` defaults)."""


class PowerCut(BaseException):
    """The supply vanished during a flash operation: the firmware stops dead."""


class NorFlash(UserContext):
    """A NOR flash chip under littlefs that counts wear and can lose power mid-operation."""

    def __init__(self, block_size: int = BLOCK_SIZE, block_count: int = PARTITION_BLOCKS) -> None:
        super().__init__(buffsize=block_size * block_count)
        self.block_size = block_size
        self.block_count = block_count
        self.erases = 0
        self.progs = 0
        self.prog_bytes = 0
        self.ops = 0  # programs and erases so far
        self.cut_at: int | None = None  # the op number (1-based) that is torn
        self.dead = False
        self._torn = False  # the cut operation itself: applied halfway

    def counters(self) -> tuple[int, int, int]:
        """(erases, programs, bytes programmed) so far."""
        return self.erases, self.progs, self.prog_bytes

    def _cut_now(self) -> bool:
        if self.dead:
            return True
        self.ops += 1
        if self.cut_at is not None and self.ops >= self.cut_at:
            self.dead = True
            self._torn = True
            return True
        return False

    def read(self, cfg: Any, block: int, off: int, size: int) -> bytearray:
        start = block * self.block_size + off
        return self.buffer[start : start + size]

    def prog(self, cfg: Any, block: int, off: int, data: bytes) -> int:
        torn = False
        if self._cut_now():
            if not self._torn:
                return 0  # powered off: nothing reaches the chip
            self._torn = False
            torn = True
            data = data[: len(data) // 2]
        start = block * self.block_size + off
        old = self.buffer[start : start + len(data)]
        self.buffer[start : start + len(data)] = bytes(
            a & b for a, b in zip(old, data, strict=True)
        )
        if not torn:
            self.progs += 1
            self.prog_bytes += len(data)
        return 0

    def erase(self, cfg: Any, block: int) -> int:
        start = block * self.block_size
        if self._cut_now():
            if self._torn:
                self._torn = False  # half the sector erased when the supply went
                half = self.block_size // 2
                self.buffer[start : start + half] = b"\xff" * half
            return 0
        self.erases += 1
        self.buffer[start : start + self.block_size] = b"\xff" * self.block_size
        return 0

    def revive(self) -> None:
        """Power back on: the flash keeps what reached it; no cut is pending."""
        self.dead = False
        self.cut_at = None
        self._torn = False

    def snapshot(self) -> bytes:
        return bytes(self.buffer)

    def restore(self, image: bytes) -> None:
        self.buffer[:] = image


def mount(flash: NorFlash, format: bool = False) -> littlefs.LittleFS:
    """Mount (or format and mount) littlefs on ``flash``; a failed mount raises."""
    c = LFS_CONFIG
    fs = littlefs.LittleFS(
        flash,
        mount=False,
        block_size=flash.block_size,
        block_count=flash.block_count,
        read_size=c["read_size"],
        prog_size=c["prog_size"],
        cache_size=c["cache_size"],
        lookahead_size=c["lookahead_size"],
        block_cycles=c["block_cycles"],
    )
    if format:
        fs.format()
    fs.mount()  # never format on a failed mount: that would hide a corrupt image
    return fs


def _oserror(e: BaseException, path: str) -> OSError:
    code = getattr(e, "code", None)
    if isinstance(e, FileNotFoundError) or code == -errno.ENOENT:
        return OSError(errno.ENOENT, "ENOENT: " + path)
    if isinstance(e, FileExistsError) or code == -errno.EEXIST:
        return OSError(errno.EEXIST, "EEXIST: " + path)
    return OSError(errno.EIO, f"EIO: {path}: {e}")


class _File:
    def __init__(self, fs: LfsFs, f: Any, path: str) -> None:
        self.fs = fs
        self.f = f
        self.path = path

    def _alive(self) -> None:
        if self.fs.flash.dead:
            # the board is off: the handle dies with it (closing it would write to the
            # flash of a file system that is not mounted any more)
            setattr(self.f, "__IOBase_closed", True)  # io.IOBase's own "closed" flag
            raise PowerCut

    def _call(self, name: str, *args: Any) -> Any:
        self._alive()
        try:
            out = getattr(self.f, name)(*args)
        except (LittleFSError, OSError) as e:
            self._alive()
            raise _oserror(e, self.path) from None
        self._alive()
        return out

    def write(self, data: bytes) -> int:
        n: int = self._call("write", data)
        return n

    def read(self, n: int = -1) -> bytes:
        out: bytes = self._call("read", n)
        return out

    def seek(self, off: int) -> int:
        pos: int = self._call("seek", off)
        return pos

    def flush(self) -> None:
        self._call("flush")

    def close(self) -> None:
        self._call("close")

    def __enter__(self) -> _File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LfsFs:
    """The file-system object of ``storage.FileStore(root, fs)`` over a littlefs image."""

    def __init__(self, flash: NorFlash, format: bool = False) -> None:
        self.flash = flash
        self.lfs = mount(flash, format)

    def _alive(self) -> None:
        if self.flash.dead:
            raise PowerCut

    def _call(self, path: str, fn: Any, *args: Any) -> Any:
        self._alive()
        try:
            out = fn(*args)
        except (LittleFSError, OSError) as e:
            self._alive()
            raise _oserror(e, path) from None
        self._alive()
        return out

    def open(self, path: str, mode: str) -> _File:
        if mode == "ab":  # MicroPython's "ab" creates the file; littlefs-python's does not
            try:
                self.stat(path)
            except OSError:
                mode = "wb"
        f = self._call(path, self.lfs.open, path, mode, 0 if "b" in mode else -1)
        return _File(self, f, path)

    def rename(self, a: str, b: str) -> None:
        self._call(a, self.lfs.rename, a, b)

    def remove(self, path: str) -> None:
        self._call(path, self.lfs.remove, path)

    def rmdir(self, path: str) -> None:
        self._call(path, self.lfs.rmdir, path)

    def mkdir(self, path: str) -> None:
        self._call(path, self.lfs.mkdir, path)

    def listdir(self, path: str) -> list[str]:
        names: list[str] = self._call(path, self.lfs.listdir, path)
        return names

    def stat(self, path: str) -> tuple[int, ...]:
        st = self._call(path, self.lfs.stat, path)
        mode = 0x4000 if st.type == 2 else 0x8000
        return (mode, 0, 0, 0, 0, 0, st.size, 0, 0, 0)

    def used_blocks(self) -> int:
        return int(self.lfs.used_block_count)
