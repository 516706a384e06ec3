"""The checkpoint file: one uncompressed zip, written atomically, read without pickle.

A checkpoint is a single file, so that replacing it is one ``os.replace``:

``checkpoint.json``
    The manifest: the format name, the contents (a JSON tree whose arrays and
    blobs are named members of the zip) and the SHA-256 of every member.
``arrays/<n>.npy``
    NumPy arrays in the ``.npy`` format, read with ``allow_pickle=False``.
``blobs/<n>``
    Opaque bytes, such as a scikit-learn estimator written by ``skops``.

Writing goes to a temporary file in the same directory, which is flushed and
fsynced, renamed over the target with ``os.replace`` and followed by an fsync
of the directory: a crash at any moment leaves either the previous file or the
new one, whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "al_adapters.checkpoint/1"
MANIFEST = "checkpoint.json"
_TMP_MARK = ".tmp-"


class CheckpointError(ValueError):
    """A checkpoint file that is damaged, incomplete or of another format."""


class UntrustedCheckpointError(CheckpointError):
    """A checkpoint that names code (classes, functions) the caller did not trust."""


class Contents:
    """What a checkpoint holds, while it is being written: a tree, arrays, blobs."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.blobs: dict[str, bytes] = {}

    def add_array(self, array: np.ndarray) -> str:
        """Keep ``array`` for writing; return the member name that refers to it."""
        array = np.asarray(array)
        if array.dtype.hasobject:
            raise TypeError(
                f"an array of dtype {array.dtype} cannot be written without pickle"
            )
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays[name] = array
        return name

    def add_blob(self, data: bytes) -> str:
        """Keep ``data`` for writing; return the member name that refers to it."""
        name = f"blobs/{len(self.blobs)}"
        self.blobs[name] = bytes(data)
        return name


def write(path: str | os.PathLike[str], tree: Any, contents: Contents) -> Path:
    """Write ``tree`` and the arrays and blobs of ``contents`` atomically."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"the directory of {str(path)!r} does not exist")
    _remove_stale_temporaries(path)
    tmp = directory / f".{path.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with open(tmp, "wb") as raw:
            _write_zip(raw, tree, contents)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(directory)
    return path


def _write_zip(raw, tree, contents):
    checksums = {}
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in contents.arrays.items():
            with archive.open(name, "w", force_zip64=True) as member:
                hashing = _HashingWriter(member)
                np.lib.format.write_array(hashing, array, allow_pickle=False)
                checksums[name] = hashing.hexdigest()
        for name, data in contents.blobs.items():
            archive.writestr(name, data)
            checksums[name] = hashlib.sha256(data).hexdigest()
        manifest = {"format": FORMAT, "sha256": checksums, "contents": tree}
        archive.writestr(MANIFEST, json.dumps(manifest, allow_nan=True))


def _fsync_directory(directory):
    """Make the rename durable (POSIX; directories cannot be opened on Windows)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(path):
    """Delete temporary files that a killed writer of ``path`` left behind."""
    prefix = f".{path.name}{_TMP_MARK}"
    directory = path.parent if str(path.parent) else Path(".")
    for candidate in directory.glob(f"{prefix}*"):
        pid = candidate.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                candidate.unlink()


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours
        return True
    return True


class _HashingWriter(io.RawIOBase):
    def __init__(self, stream):
        self.stream, self.hash = stream, hashlib.sha256()

    def writable(self):
        return True

    def write(self, data):
        self.hash.update(data)
        return self.stream.write(data)

    def hexdigest(self):
        return self.hash.hexdigest()


class Reader:
    """An open checkpoint: its manifest, and its members checked on reading."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no checkpoint at {str(self.path)!r}")
        try:
            self._archive = zipfile.ZipFile(self.path)
            manifest = json.loads(self._read_member(MANIFEST))
        except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError) as exc:
            raise CheckpointError(
                f"{str(self.path)!r} is not a readable al_adapters checkpoint "
                f"(damaged or truncated?): {exc}"
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise CheckpointError(
                f"{str(self.path)!r} has format {found!r}, not {FORMAT!r}"
            )
        self._sha256 = manifest.get("sha256", {})
        self.tree = manifest.get("contents")

    def close(self) -> None:
        self._archive.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _read_member(self, name):
        with self._archive.open(name) as member:
            return member.read()

    def _check_name(self, name):
        if not isinstance(name, str) or name not in self._sha256:
            raise CheckpointError(
                f"{str(self.path)!r} refers to a member {name!r} it does not list"
            )

    def array(self, name: str) -> np.ndarray:
        """Return the array stored as ``name``, after checking its checksum."""
        data = self.blob(name)
        try:
            return _npy_array(data)
        except (ValueError, TypeError, EOFError) as exc:
            raise CheckpointError(
                f"cannot read array {name!r} of {str(self.path)!r}: {exc}"
            ) from exc

    def blob(self, name: str) -> bytearray:
        """Return the bytes stored as ``name``, after checking their checksum."""
        self._check_name(name)
        try:
            info = self._archive.getinfo(name)
            if (
                info.compress_type != zipfile.ZIP_STORED
                or info.file_size > self.path.stat().st_size
            ):
                raise zipfile.BadZipFile("the member is compressed or too large")
            data = bytearray(info.file_size)
            view, n_read = memoryview(data), 0
            with self._archive.open(name) as member:
                while n_read < len(data):
                    chunk = member.read(min(len(data) - n_read, 1 << 26))
                    if not chunk:
                        break
                    view[n_read : n_read + len(chunk)] = chunk
                    n_read += len(chunk)
                if n_read != len(data) or member.read(1):
                    raise zipfile.BadZipFile("the member's size is not as recorded")
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise CheckpointError(
                f"cannot read {name!r} of {str(self.path)!r}: {exc}"
            ) from exc
        self._check_digest(name, hashlib.sha256(data).hexdigest())
        return data

    def _check_digest(self, name, digest):
        if digest != self._sha256[name]:
            raise CheckpointError(
                f"the checksum of {name!r} in {str(self.path)!r} does not match its "
                "manifest: the file was changed or damaged"
            )


def _npy_array(data):
    """Return the array of ``.npy`` bytes, a view of ``data``; never unpickle."""
    header = io.BytesIO(memoryview(data)[: 65536 + 16])
    version = np.lib.format.read_magic(header)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(header)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise ValueError(
            "the array holds Python objects, which only pickle can read "
            "(arrays are read with allow_pickle=False)"
        )
    count = int(np.prod(shape, dtype=np.int64))
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header.tell())
    if len(data) != header.tell() + array.nbytes:
        raise ValueError("the array's data do not have the size its header gives")
    return array.reshape(shape, order="F" if fortran else "C")
