"""Files read within a size bound, and written whole or not at all."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import OutputError, UnreadableFile

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_DRAFT_BYTES",
    "MAX_KEY_BYTES",
    "MAX_REQUEST_BYTES",
    "read_file",
    "read_stream",
    "reason_of",
    "staged_write",
    "write_atomically",
]

MAX_REQUEST_BYTES = 1 << 20
"""A letter request file: 1 Mio (a request with every fact at its longest is a few hundred kilobytes)."""

MAX_DRAFT_BYTES = 16 << 20
"""A draft file (request, paragraphs, provenance record with every attempt): 16 Mio."""

MAX_BATCH_BYTES = 128 << 20
"""A batch file (JSON Lines, one request a line): 128 Mio, some fifty thousand letters."""

MAX_KEY_BYTES = 64 << 10
"""A PEM key file: 64 Kio (an ed25519 key takes a few hundred bytes)."""

_REASONS = {
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EACCES: "permission refusée",
    errno.EPERM: "opération non permise",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EDQUOT: "quota de disque dépassé",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.ELOOP: "trop de liens symboliques",
    errno.EIO: "erreur d'entrée-sortie",
}
"""French reasons for the usual OS errors (the system's own `strerror` follows the system's language)."""


def reason_of(error: OSError) -> str:
    """Why a file operation failed, in French where the error is a usual one."""
    return _REASONS.get(error.errno or 0) or error.strerror or str(error)


def _size_error(name: str, limit: int) -> UnreadableFile:
    return UnreadableFile(name, f"fichier trop volumineux (au plus {_bytes(limit)})")


def _bytes(count: int) -> str:
    """A size as French writes it: 64 Kio, 1 Mio, 128 Mio."""
    for unit, shift in (("Mio", 20), ("Kio", 10)):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift} {unit}"
    return f"{count} octets"


def read_stream(stream: BinaryIO, limit: int, name: str) -> bytes:
    """At most `limit` bytes of `stream` (standard input, say), read to its end; `UnreadableFile`
    naming `name` when there are more, or when it cannot be read. Never reads more than `limit + 1`."""
    try:
        data = stream.read(limit + 1)
    except OSError as error:
        raise UnreadableFile(name, reason_of(error)) from error
    if len(data) > limit:
        raise _size_error(name, limit)
    return data


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of the file at `path`, which may hold at most `limit` of them (see `read_stream`):
    `/dev/zero` or a file of several gigabytes is refused after `limit + 1` bytes."""
    try:
        stream = path.open("rb")
    except FileNotFoundError as error:
        raise UnreadableFile.of(path, error) from error
    except OSError as error:
        raise UnreadableFile(path, reason_of(error)) from error
    with stream:
        return read_stream(stream, limit, str(path))


@contextmanager
def staged_write(path: Path, content: bytes) -> Iterator[None]:
    """Write `content` to a new temporary file beside `path` (synced to disk), run the block, then rename
    the file over `path` and sync the folder; when the block raises, remove the file: `path` is left as
    it was. The steps that must succeed together with the file (a journal entry) go in the block.

    `OutputError` when the file cannot be written.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            # The usual permissions, from the umask; never an existing file.
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise OutputError(path, reason_of(error)) from error
        yield
        try:
            os.replace(temporary, path)
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as error:
            raise OutputError(path, reason_of(error)) from error
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(path: Path, content: bytes) -> None:
    """Write the whole file or nothing, durably (`staged_write` with nothing to do in between).

    `OutputError` when the file cannot be written.
    """
    with staged_write(path, content):
        pass
