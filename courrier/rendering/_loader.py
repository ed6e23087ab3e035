"""Reading a template library's files: from layers of folders, never from outside them."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from jinja2 import BaseLoader, Environment
from jinja2.exceptions import SecurityError, TemplateNotFound

__all__ = ["MAX_LIBRARY_FILE_BYTES", "LibraryLoader", "RefusedFile", "library_folders"]

MAX_LIBRARY_FILE_BYTES = 1_000_000
"""Upper bound on one file of a library (a manifest, a source, a partial)."""


class RefusedFile(SecurityError):
    """A library file that courrier refuses to read: a path leading outside the library, a symbolic
    link, not a plain file, too large, not UTF-8. The message names it, in French."""


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def library_folders(root: Path) -> tuple[list[Path], list[Path]]:
    """The template folders directly under `root` (names not starting with `_` or `.`), and the
    symbolic links found among them instead of a folder."""
    folders, links = [], []
    for path in sorted(root.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if _is_link(path):
            links.append(path)
        elif path.is_dir():
            folders.append(path)
    return folders, links


class LibraryLoader(BaseLoader):
    """The files of a library made of layers: folders, the top one first.

    A shared part (a file under a folder whose name starts with `_`: `_layout/`, `_partials/`) comes
    from the first layer that has it, so an agency's layer overrides the shipped file of the same name;
    a template's own files come only from the layer holding the template's folder, so that a template
    never mixes an agency's manifest with a shipped source. A name is relative and plain (no `..`);
    no folder or file on its way may be a symbolic link, so that the file lies inside its layer:
    `RefusedFile` otherwise.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(roots)

    def path(self, name: str) -> Path:
        """Where the file `name` (a path relative to the library, with `/`) is; `RefusedFile` for a
        name or a file that would lead outside, Jinja2's `TemplateNotFound` when no layer has it."""
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or any(part in ("", ".", "..") for part in parts):
            raise RefusedFile(f"chemin refusé, hors de la bibliothèque : {name}")
        layers = range(len(self.roots))
        if not parts[0].startswith("_"):
            owner = next((i for i in layers if os.path.lexists(self.roots[i] / parts[0])), None)
            layers = range(0) if owner is None else range(owner, owner + 1)
        for layer in layers:
            root = self.roots[layer]
            for depth in range(1, len(parts) + 1):
                step = root.joinpath(*parts[:depth])
                if _is_link(step):
                    raise RefusedFile(f"lien symbolique refusé : {step}")
                if not os.path.lexists(step):
                    break
            else:
                # No `..` and no link on the way: the file is inside this layer.
                return root.joinpath(*parts)
        raise TemplateNotFound(name, message=f"introuvable dans la bibliothèque : {name}")

    def read(self, name: str) -> bytes:
        """The bytes of the file `name` (see `path`); `OSError` if it cannot be read."""
        return self._read(name)[1]

    def _read(self, name: str) -> tuple[Path, bytes]:
        path = self.path(name)
        if not stat.S_ISREG(path.lstat().st_mode):  # before opening: opening a FIFO would wait forever
            raise RefusedFile(f"pas un fichier ordinaire : {path}")
        # O_NOFOLLOW: the file cannot have become a link since; O_NONBLOCK: nor a FIFO that blocks.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise RefusedFile(f"pas un fichier ordinaire : {path}")
            if status.st_size > MAX_LIBRARY_FILE_BYTES:
                raise RefusedFile(f"fichier de plus de {MAX_LIBRARY_FILE_BYTES} octets : {path}")
            return path, file.read(MAX_LIBRARY_FILE_BYTES + 1)

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path, data = self._read(template)
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RefusedFile(f"pas en UTF-8 (octet {error.start}) : {path}") from error
        # Library files are read once: the compiled template is never reloaded (auto_reload is off).
        return source, str(path), lambda: True
