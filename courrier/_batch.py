"""Batch drafting (mail merge): one request per JSON line, one draft file per request, resumable."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._draft import Draft
from ._files import MAX_BATCH_BYTES, MAX_DRAFT_BYTES, read_file, reason_of, staged_write, write_atomically
from ._request import LetterRequest
from .drafting import Drafter
from .errors import CourrierError, OutputError
from .journal import Journal
from .outputs import SUFFIXES, Format, document

__all__ = ["BatchItem", "draft_batch", "read_batch"]


@dataclass(frozen=True)
class BatchItem:
    """What became of one line: drafted now, already done by an earlier run, or failed (and why)."""

    line: int
    name: str
    status: Literal["drafted", "done", "failed"]
    message: str | None = None


def draft_batch(
    drafter: Drafter,
    lines: list[tuple[int, bytes]],
    out_dir: Path,
    *,
    format: Format,
    journal: Journal | None,
    on_item: Callable[[int, int, BatchItem | None], None],
) -> list[BatchItem]:
    """Draft every request of a JSON Lines file (its `lines`, from `read_batch`) into `out_dir`.

    A line's files are named after its content (`<hash>.json`, then `-2`, `-3`… for repeated lines), so
    inserting a line renames nothing. Each line gives the letter in `format` (unless json), its journal
    event, and `<hash>.json` (the draft and its provenance), renamed in place last: a line is done when
    both its files exist, and a rerun resumes. Nothing of a line is written when its journal event
    fails. A line that fails, for any reason, is reported through `on_item` (called first with no
    item, to show the start) and the batch goes on.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(out_dir, f"dossier de sortie inutilisable ({reason_of(error)})") from error
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
            draft = Draft.from_json(read_file(draft_path, MAX_DRAFT_BYTES), source=str(draft_path))
            write_atomically(letter_path, document(draft, format))
        return BatchItem(number, name, "done")
    draft = drafter.draft(LetterRequest.from_json(raw, library=drafter.library))
    # Both files are staged, the event journaled, then the letter and the draft renamed in place (the
    # draft last, since it marks the line done): a failed journal leaves no file.
    with ExitStack() as files:
        files.enter_context(staged_write(draft_path, draft.to_json().encode("utf-8")))
        if letter_path is not None:
            files.enter_context(staged_write(letter_path, document(draft, format)))
        if journal is not None:
            journal.record(draft)
    return BatchItem(number, name, "drafted")


def read_batch(path: Path) -> list[tuple[int, bytes]]:
    """The non-blank lines of a JSON Lines file, with their numbers (from 1). The file may hold at most
    `MAX_BATCH_BYTES`: `UnreadableFile` beyond, as for a file that cannot be read."""
    data = read_file(path, MAX_BATCH_BYTES)
    return [(number, line.strip()) for number, line in enumerate(data.splitlines(), start=1) if line.strip()]
