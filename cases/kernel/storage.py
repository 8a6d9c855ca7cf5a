"""Content-addressed, write-once blob storage over Django's storage API.

Originals live at evidence/sha256/ab/cd/<sha256> in the default storage (a directory under
MEDIA_ROOT by default, an S3 bucket through django-storages in the docker deployment).
Derived files (blurred previews) live under derived/, apart from the originals, and can be
rebuilt from them at any time.

Write-once, concretely:
- the bytes are first copied to a local temporary file, hashed while they stream (the hash
  taken at collection), and only then named by that hash;
- on a file system the blob appears with os.link(), which fails when the name exists: no
  check-then-write race, no half-written file under a final name, and a crash leaves at most
  a temporary file;
- on object storage a PUT is atomic (an object is whole or absent); an existing name is
  never written again;
- an existing blob is verified (re-hashed) instead of written; a mismatch raises
  BlobIntegrityError and nothing is replaced.
Nothing in this module deletes an original.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage

CHUNK_SIZE = 1024 * 1024  # 1 MiB: large enough for hashing speed, small enough for memory
BLOB_PREFIX = "evidence/sha256"
DERIVED_PREFIX = "derived"
TEMP_DIR = "evidence/tmp"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobIntegrityError(Exception):
    """A stored blob does not hash to the name it is stored under (altered or truncated)."""


def evidence_storage() -> Storage:
    """The storage originals and derived files live in (the project's default storage)."""
    return default_storage


def blob_name(sha256: str) -> str:
    """evidence/sha256/ab/cd/<sha256>: two levels of fan-out keep directories small."""
    if not SHA256_RE.match(sha256):
        raise ValueError("not a lower-case hex SHA-256")
    return f"{BLOB_PREFIX}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def derived_name(sha256: str, suffix: str) -> str:
    """A derived file of one original, e.g. derived/previews/ab/<sha256>-blur.jpg."""
    if not SHA256_RE.match(sha256) or not re.match(r"^[a-z0-9.-]+$", suffix):
        raise ValueError("bad derived file name")
    return f"{DERIVED_PREFIX}/previews/{sha256[:2]}/{sha256}-{suffix}"


def _local_root(storage: Storage) -> Path | None:
    """The directory behind a file-system storage; None for object storage."""
    # default_storage is a LazyObject; isinstance sees through it to the real class.
    if isinstance(storage, FileSystemStorage):
        return Path(storage.path(""))
    return None


@dataclass
class SpooledBlob:
    """Bytes copied to a local temporary file, with the SHA-256 and size taken on the way."""

    path: Path
    sha256: str
    size: int
    head: bytes  # the first bytes, for sniffing the type without reopening the file

    def open(self) -> IO[bytes]:
        return self.path.open("rb")


def _iter_chunks(data: bytes | IO[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK_SIZE):
            yield bytes(view[start : start + CHUNK_SIZE])
        return
    with contextlib.suppress(AttributeError, OSError, io.UnsupportedOperation):
        data.seek(0)
    while chunk := data.read(CHUNK_SIZE):
        yield chunk


@contextlib.contextmanager
def blob_spool(data: bytes | IO[bytes], *, storage: Storage | None = None) -> Iterator[SpooledBlob]:
    """Copy `data` to a temporary file in 1 MiB chunks, hashing as it streams; the file is
    removed on exit. On a file-system storage the temporary file sits inside the storage
    root, so blob_put can link it into place without copying it again."""
    storage = storage or evidence_storage()
    root = _local_root(storage)
    temp_dir = None
    if root is not None:
        temp_dir = root / TEMP_DIR
        temp_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, name = tempfile.mkstemp(prefix="ingest-", suffix=".part", dir=temp_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in _iter_chunks(data):
                size += len(chunk)
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        yield SpooledBlob(path=path, sha256=digest.hexdigest(), size=size, head=head)
    finally:
        path.unlink(missing_ok=True)


def blob_hash(name: str, *, storage: Storage | None = None) -> str:
    """Re-hash a stored file in 1 MiB chunks."""
    storage = storage or evidence_storage()
    digest = hashlib.sha256()
    with storage.open(name, "rb") as stored:
        while chunk := stored.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _put_once(source: Path, name: str, storage: Storage) -> bool:
    """Make `source` appear under `name` unless something is there already; True if written."""
    root = _local_root(storage)
    if root is not None:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Read-only on disk too; the link shares the temporary file's inode and mode.
        source.chmod(0o444)
        try:
            os.link(source, target)
        except FileExistsError:
            return False
        return True
    if storage.exists(name):
        return False
    with source.open("rb") as handle:
        saved = storage.save(name, File(handle, name=name.rsplit("/", 1)[-1]))
    if saved != name:
        # Another writer won the race and the storage picked a fresh name for our copy.
        # That copy is ours and redundant (never an original); the winner's is verified below.
        storage.delete(saved)
        return False
    return True


def blob_put(spooled: SpooledBlob, *, storage: Storage | None = None) -> tuple[str, bool]:
    """Store spooled bytes under their content address. Returns (name, written): written is
    False when the blob already existed and verified. Raises BlobIntegrityError when an
    existing blob no longer matches its hash (it is left alone for investigation)."""
    storage = storage or evidence_storage()
    name = blob_name(spooled.sha256)
    if _put_once(spooled.path, name, storage):
        return name, True
    stored_hash = blob_hash(name, storage=storage)
    if stored_hash != spooled.sha256:
        raise BlobIntegrityError(
            f"stored blob {name} hashes to {stored_hash}; refusing to replace it"
        )
    return name, False


def blob_open(name: str, *, storage: Storage | None = None) -> IO[bytes]:
    """Open a stored original for reading."""
    return (storage or evidence_storage()).open(name, "rb")


def derived_put(name: str, data: bytes, *, storage: Storage | None = None) -> str:
    """Store a derived file once (same write-once path; a concurrent builder's identical
    copy simply wins). Derived files are kept apart from originals under derived/."""
    storage = storage or evidence_storage()
    if not name.startswith(f"{DERIVED_PREFIX}/"):
        raise ValueError("derived files live under derived/")
    with blob_spool(data, storage=storage) as spooled:
        _put_once(spooled.path, name, storage)
    return name


def record_put(name: str, data: bytes, *, storage: Storage) -> bool:
    """Store a small record (an audit anchor) once under `name`, by the same write-once path
    as originals; True if written, False if something was already there (never replaced)."""
    with blob_spool(data, storage=storage) as spooled:
        return _put_once(spooled.path, name, storage)


def derived_read(name: str, *, storage: Storage | None = None) -> bytes | None:
    storage = storage or evidence_storage()
    if not storage.exists(name):
        return None
    with storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data
