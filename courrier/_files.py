"""Files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._errors import UserError

__all__ = ["write_atomically"]


def write_atomically(path: Path, content: bytes) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, then a rename.

    `UserError` when the folder cannot be written to.
    """
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise UserError(f"écriture impossible de {path} : {error.strerror or error}") from error
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
