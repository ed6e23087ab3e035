"""Files written whole or not at all."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from .errors import OutputError

__all__ = ["write_atomically"]


def write_atomically(path: Path, content: bytes) -> None:
    """Write the whole file or nothing, durably: a new temporary file in the same folder (with the
    usual permissions, from the umask), synced to disk, renamed over `path`, then the folder synced.

    `OutputError` when the file cannot be written.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as error:
        raise OutputError(path, error.strerror or str(error)) from error
