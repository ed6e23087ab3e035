"""The draft: the letter's paragraphs, the request they came from, and their sealed provenance record.

A draft is immutable. `edit` and `approve` return a new version whose record names the previous
version's hash, so that versions form a hash chain.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ._errors import InvalidDraft, InvalidInput, MissingMention, UnknownSection, UserError
from ._manifest import MentionSpec
from ._models import LetterRequest, Origin, SectionMode, TemplateRef
from ._record import (
    ApprovalRecord,
    Change,
    EditRecord,
    Integrity,
    ParagraphRecord,
    ProvenanceRecord,
    Signature,
    seal,
    text_sha256,
)
from ._validation import Line, LongText, problems_from

__all__ = ["Draft", "Paragraph", "missing_mentions"]

_M = TypeVar("_M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paragraph(_Strict):
    """One section of a letter, with the way it may be produced and who produced it."""

    section: str
    mode: SectionMode
    origin: Origin
    text: str


class _Edit(_Strict):
    text: LongText
    author: Line
    reason: Line | None = None


class _Approval(_Strict):
    by: Line
    qualite: Line


def missing_mentions(text: str, mentions: tuple[MentionSpec, ...]) -> tuple[str, ...]:
    """The labels of the required mentions that `text` lacks (whitespace runs count as one space)."""
    flat = " ".join(text.split())
    return tuple(m.label for m in mentions if not m.regex().search(flat))


class Draft(_Strict):
    """A drafted letter: ordered paragraphs, the request, the provenance record and its seal."""

    schema_version: Literal[1] = 1
    id: str
    request: LetterRequest
    paragraphs: tuple[Paragraph, ...]
    provenance: ProvenanceRecord
    integrity: Integrity
    signature: Signature | None = None

    @property
    def text(self) -> str:
        """The whole letter as plain text, paragraphs separated by a blank line."""
        return "\n\n".join(paragraph.text for paragraph in self.paragraphs)

    @property
    def template(self) -> TemplateRef:
        return self.provenance.template

    @property
    def version(self) -> int:
        return self.provenance.version

    @property
    def sha256(self) -> str:
        """The SHA-256 of this version's provenance record."""
        return self.integrity.record_sha256

    @property
    def approved(self) -> bool:
        """Whether this version carries an approval (any later edit removes it)."""
        return self.provenance.approval is not None

    def missing_mentions(self) -> tuple[str, ...]:
        """The labels of the template's required mentions that the letter lacks."""
        return missing_mentions(self.text, self.provenance.required_mentions)

    def edit(self, section: str, text: str, *, author: str, reason: str | None = None) -> Draft:
        """A new version where a person rewrote one section; the edit is recorded and mentions re-checked.

        Any section may be edited, locked ones included: the person, not the model, answers for it.
        The new version is not approved, whatever this one was.
        """
        edit = _validated(_Edit, text=text, author=author, reason=reason)
        index = self._index(section)
        before = self.paragraphs[index]
        if edit.text == before.text:
            raise UserError(f"section {section} : le nouveau texte est identique à l'actuel")
        paragraphs = list(self.paragraphs)
        paragraphs[index] = before.model_copy(update={"text": edit.text, "origin": "human"})
        entries = list(self.provenance.paragraphs)
        entries[index] = entries[index].model_copy(
            update={"origin": "human", "text_sha256": text_sha256(edit.text)}
        )
        now = dt.datetime.now(dt.UTC)
        record = EditRecord(
            version=self.version + 1,
            section=section,
            author=edit.author,
            reason=edit.reason,
            at=now,
            before_sha256=text_sha256(before.text),
            after_sha256=text_sha256(edit.text),
        )
        letter = "\n\n".join(p.text for p in paragraphs)
        return self._next_version(
            "edited",
            now,
            paragraphs=tuple(paragraphs),
            paragraph_records=tuple(entries),
            edits=(*self.provenance.edits, record),
            approval=None,
            missing=missing_mentions(letter, self.provenance.required_mentions),
        )

    def approve(self, *, by: str, qualite: str) -> Draft:
        """A new, approved version. `MissingMention` if the letter lacks a required mention."""
        approval = _validated(_Approval, by=by, qualite=qualite)
        missing = self.missing_mentions()
        if missing:
            raise MissingMention(missing)
        now = dt.datetime.now(dt.UTC)
        return self._next_version(
            "approved",
            now,
            paragraphs=self.paragraphs,
            paragraph_records=self.provenance.paragraphs,
            edits=self.provenance.edits,
            approval=ApprovalRecord(
                version=self.version + 1, by=approval.by, qualite=approval.qualite, at=now
            ),
            missing=missing,
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialize the draft (request, paragraphs, provenance record, seal) to JSON."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, data: str | bytes, *, source: str | None = None) -> Draft:
        """Read a draft back from `to_json()` output; raise `InvalidDraft` naming the fields at fault.

        Reading does not verify: call `courrier.verify` for that.
        """
        try:
            return cls.model_validate_json(data)
        except ValidationError as error:
            raise InvalidDraft(problems_from(error), source=source) from error

    def _index(self, section: str) -> int:
        for index, paragraph in enumerate(self.paragraphs):
            if paragraph.section == section:
                return index
        raise UnknownSection(section, [p.section for p in self.paragraphs])

    def _next_version(
        self,
        change: Change,
        now: dt.datetime,
        *,
        paragraphs: tuple[Paragraph, ...],
        paragraph_records: tuple[ParagraphRecord, ...],
        edits: tuple[EditRecord, ...],
        approval: ApprovalRecord | None,
        missing: tuple[str, ...],
    ) -> Draft:
        record = self.provenance.model_copy(
            update={
                "version": self.version + 1,
                "change": change,
                "previous_sha256": self.sha256,
                "created_at": now,
                "paragraphs": paragraph_records,
                "edits": edits,
                "approval": approval,
                "missing_mentions": missing,
            }
        )
        return Draft(
            id=self.id,
            request=self.request,
            paragraphs=paragraphs,
            provenance=record,
            integrity=seal(record),
        )


def _validated(model: type[_M], **values: object) -> _M:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise InvalidInput(problems_from(error)) from error
