"""Batch drafting (mail merge): one request per JSON line, one draft file per request, resumable."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from ._drafting import Drafter
from ._errors import CourrierError, InvalidRequest, UserError
from ._export import SUFFIXES, Format, document
from ._files import write_atomically
from ._journal import Journal
from ._models import LetterRequest
from ._validation import problems_from

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
    on_item: Callable[[int, int, BatchItem], None],
) -> list[BatchItem]:
    """Draft every request of a JSON Lines file into `out_dir`.

    Each line gives `NNNN-<hash>.json` (the draft and its provenance, written last: its presence means
    done) and, unless `format` is json, the letter in `format`. A line whose draft file exists is
    skipped, so a rerun resumes; a line that fails is reported through `on_item` and the batch goes on.
    """
    lines = list(_lines(requests))
    out_dir.mkdir(parents=True, exist_ok=True)
    items = []
    for position, (number, raw) in enumerate(lines, start=1):
        name = f"{number:04d}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:12]}"
        draft_path = out_dir / f"{name}.json"
        if draft_path.exists():
            item = BatchItem(number, name, "done")
        else:
            try:
                draft = drafter.draft(_request(raw))
                if format != "json":
                    write_atomically(out_dir / f"{name}{SUFFIXES[format]}", document(draft, format))
                write_atomically(draft_path, draft.to_json().encode("utf-8"))
                if journal is not None:
                    journal.record(draft)
                item = BatchItem(number, name, "drafted")
            except CourrierError as error:
                item = BatchItem(number, name, "failed", str(error))
        items.append(item)
        on_item(position, len(lines), item)
    return items


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSON Lines file, with their numbers (from 1)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line.strip()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"lecture impossible de {path} : {error}") from error


def _request(raw: str) -> LetterRequest:
    try:
        return LetterRequest.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidRequest(problems_from(error)) from error
