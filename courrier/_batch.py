"""Batch drafting (mail merge): one request per JSON line, one draft file per request, resumable."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._draft import Draft
from ._files import write_atomically
from ._request import LetterRequest
from .drafting import Drafter
from .errors import CourrierError, OutputError, UnreadableFile
from .journal import Journal
from .outputs import SUFFIXES, Format, document

__all__ = ["BatchItem", "draft_batch"]


@dataclass(frozen=True)
class BatchItem:
    """What became of one line: drafted now, already done by an earlier run, or failed (and why)."""

    line: int
    name: str
    status: Literal["drafted", "done", "failed"]
    message: str | None = None


def draft_batch(
    drafter: Drafter,
    requests: Path,
    out_dir: Path,
    *,
    format: Format,
    journal: Journal | None,
    on_item: Callable[[int, int, BatchItem | None], None],
) -> list[BatchItem]:
    """Draft every request of a JSON Lines file into `out_dir`.

    A line's files are named after its content (`<hash>.json`, then `-2`, `-3`… for repeated lines), so
    inserting a line renames nothing. Each line gives the letter in `format` (unless json), its journal
    event, then `<hash>.json` (the draft and its provenance), written last: a line is done when both its
    files exist, and a rerun resumes. A line that fails, for any reason, is reported through `on_item`
    (called first with no item, to show the start) and the batch goes on.
    """
    lines = _lines(requests)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(out_dir, f"dossier de sortie inutilisable ({error.strerror or error})") from error
    on_item(0, len(lines), None)
    seen: Counter[str] = Counter()
    items = []
    for position, (number, raw) in enumerate(lines, start=1):
        digest = hashlib.sha256(raw).hexdigest()[:16]
        seen[digest] += 1
        name = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        try:
            item = _draft_line(drafter, raw, out_dir, name, number, format=format, journal=journal)
        except Exception as error:  # noqa: BLE001 - one failing line must not stop the batch
            message = str(error) if isinstance(error, CourrierError) else f"{type(error).__name__}: {error}"
            item = BatchItem(number, name, "failed", message)
        items.append(item)
        on_item(position, len(lines), item)
    return items


def _draft_line(
    drafter: Drafter,
    raw: bytes,
    out_dir: Path,
    name: str,
    number: int,
    *,
    format: Format,
    journal: Journal | None,
) -> BatchItem:
    draft_path = out_dir / f"{name}.json"
    letter_path = None if format == "json" else out_dir / f"{name}{SUFFIXES[format]}"
    if draft_path.exists():
        if letter_path is not None and not letter_path.exists():
            draft = Draft.from_json(draft_path.read_bytes(), source=str(draft_path))
            write_atomically(letter_path, document(draft, format))
        return BatchItem(number, name, "done")
    draft = drafter.draft(LetterRequest.from_json(raw))
    if letter_path is not None:
        write_atomically(letter_path, document(draft, format))
    if journal is not None:
        journal.record(draft)
    write_atomically(draft_path, draft.to_json().encode("utf-8"))
    return BatchItem(number, name, "drafted")


def _lines(path: Path) -> list[tuple[int, bytes]]:
    """The non-blank lines of a JSON Lines file, with their numbers (from 1)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableFile.of(path, error) from error
    return [(number, line.strip()) for number, line in enumerate(data.splitlines(), start=1) if line.strip()]
