"""The draft: the letter's paragraphs, the request they came from, and their sealed provenance record.

A draft is immutable. `edit` and `approve` return a new version whose record names the previous
version's hash, so that versions form a hash chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from ._canonical import sha256_of, text_sha256
from ._request import LetterRequest
from ._validation import FrozenModel, Line, LongText, Text, problems_from
from .errors import (
    IntegrityProblem,
    InvalidDraft,
    InvalidInput,
    LockedSection,
    MissingMention,
    UnknownSection,
    UserError,
    VerificationError,
)
from .record import (
    ApprovalRecord,
    Change,
    EditRecord,
    Integrity,
    Origin,
    ParagraphRecord,
    ProvenanceRecord,
    SectionMode,
    Signature,
    TemplateRef,
    edit_refusal,
    missing_mentions,
    seal,
)

__all__ = ["Draft", "Paragraph", "letter_text"]

_M = TypeVar("_M", bound=BaseModel)


class Paragraph(FrozenModel):
    """One section of a letter, with the way it may be produced and who produced it."""

    section: Text
    mode: SectionMode
    origin: Origin
    text: Text


class _Edit(FrozenModel):
    text: LongText
    author: Line
    reason: Line | None = None


class _Approval(FrozenModel):
    by: Line
    role: Line


def letter_text(paragraphs: Sequence[Paragraph]) -> str:
    """The whole letter as plain text: the paragraphs, separated by a blank line."""
    return "\n\n".join(paragraph.text for paragraph in paragraphs)


class Draft(FrozenModel):
    """A drafted letter: ordered paragraphs, the request, the provenance record and its seal."""

    schema_version: Literal[1] = 1
    id: Text
    request: LetterRequest
    paragraphs: tuple[Paragraph, ...]
    provenance: ProvenanceRecord
    integrity: Integrity
    signature: Signature | None = None

    @property
    def text(self) -> str:
        """The whole letter as plain text, paragraphs separated by a blank line."""
        return letter_text(self.paragraphs)

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

    def integrity_problems(self) -> tuple[IntegrityProblem, ...]:
        """What does not match between the text, the request, the record and its seal (empty if all does).

        These checks need nothing but the draft; `courrier.verify` adds those that need the library.
        """
        return tuple(_integrity_problems(self))

    def require_intact(self) -> None:
        """`VerificationError` unless the draft matches its record and seal (`integrity_problems`)."""
        problems = self.integrity_problems()
        if problems:
            raise VerificationError(problems)

    def missing_mentions(self) -> tuple[str, ...]:
        """The labels of the template's required mentions that the letter lacks."""
        return missing_mentions(self.text, self.provenance.required_mentions)

    def edit(
        self, section: str, text: str, *, author: str, reason: str | None = None, override: bool = False
    ) -> Draft:
        """A new version where a person rewrote one section; the edit is recorded and mentions re-checked.

        `rephrase` and `fill` sections may be edited. A `locked` section (vetted legal text, the layout)
        raises `LockedSection` unless `override=True` with a `reason`: the edit is then an override,
        which `verify` reports and every export marks. The signature and the AI notice never change by
        edit (`LockedSection`): draft the letter again. The new version is not approved.
        """
        self.require_intact()
        edit = _validated(_Edit, text=text, author=author, reason=reason)
        index = self._index(section)
        before = self.paragraphs[index]
        refusal = edit_refusal(section, before.mode, override=override, reason=edit.reason)
        if refusal is not None:
            raise LockedSection(section, refusal)
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
        return self._next_version(
            "edited",
            now,
            paragraphs=tuple(paragraphs),
            paragraph_records=tuple(entries),
            edits=(*self.provenance.edits, record),
            approval=None,
            missing=missing_mentions(letter_text(paragraphs), self.provenance.required_mentions),
        )

    def approve(self, *, by: str, role: str) -> Draft:
        """A new, approved version. `MissingMention` if the letter lacks a required mention."""
        self.require_intact()
        approval = _validated(_Approval, by=by, role=role)
        if self.approved:
            raise UserError(f"la version {self.version} est déjà approuvée")
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
            approval=ApprovalRecord(version=self.version + 1, by=approval.by, role=approval.role, at=now),
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


def _integrity_problems(draft: Draft) -> Iterator[IntegrityProblem]:
    record, integrity = draft.provenance, draft.integrity
    if record.draft_id != draft.id:
        yield IntegrityProblem("l'identifiant du brouillon diffère de celui du registre")
    if not draft.paragraphs:
        yield IntegrityProblem("le courrier n'a aucun paragraphe")
    if record.model is None and any(entry.attempts or entry.origin == "model" for entry in record.paragraphs):
        yield IntegrityProblem("un texte vient du modèle de langue, mais le registre ne nomme aucun modèle")
    counts = {len(draft.paragraphs), len(record.paragraphs), len(integrity.paragraphs_sha256)}
    if len(counts) != 1:
        yield IntegrityProblem("le nombre de paragraphes diffère entre le texte, le registre et le sceau")
        return
    located = False
    computed = seal(record)
    for index, (paragraph, entry, sealed, hashed) in enumerate(
        zip(
            draft.paragraphs,
            record.paragraphs,
            integrity.paragraphs_sha256,
            computed.paragraphs_sha256,
            strict=True,
        )
    ):
        for message in _paragraph_problems(paragraph, entry, sealed == hashed, record):
            located = True
            yield IntegrityProblem(message, index, paragraph.section)
    if not located and computed.record_sha256 != integrity.record_sha256:
        yield IntegrityProblem("le registre de provenance ne correspond pas au sceau")
    yield from (IntegrityProblem(message) for message in _version_problems(record))
    if sha256_of(draft.request) != record.request_sha256:
        yield IntegrityProblem("la demande ne correspond pas à son empreinte dans le registre")
    if sha256_of(draft.request.facts) != record.facts_sha256:
        yield IntegrityProblem("les faits ne correspondent pas à leur empreinte dans le registre")
    sender = draft.request.sender
    if (record.organisation, record.signatory) != (sender.organisation, sender.signatory.label):
        yield IntegrityProblem("l'organisme ou le signataire du registre diffèrent de ceux de la demande")
    yield from (IntegrityProblem(message) for message in _edit_problems(record))
    missing = missing_mentions(draft.text, record.required_mentions)
    if missing != record.missing_mentions:
        yield IntegrityProblem("les mentions obligatoires absentes diffèrent du registre")
    if record.approval is not None and missing:
        yield IntegrityProblem("version approuvée alors qu'une mention obligatoire manque")


def _paragraph_problems(
    paragraph: Paragraph, entry: ParagraphRecord, matches_seal: bool, record: ProvenanceRecord
) -> Iterator[str]:
    """How one paragraph disagrees with its record entry, and the entry with its origin's rules."""
    if (paragraph.section, paragraph.mode, paragraph.origin) != (entry.section, entry.mode, entry.origin):
        yield "section, mode ou origine diffèrent du registre"
    if text_sha256(paragraph.text) != entry.text_sha256:
        yield "le texte ne correspond pas à son empreinte dans le registre"
    if not matches_seal:
        yield "l'entrée du registre ne correspond pas au sceau"
    accepted = [attempt for attempt in entry.attempts if attempt.accepted]
    if len(accepted) > 1 or (accepted and entry.attempts[-1] is not accepted[0]):
        yield "seule la dernière tentative du modèle peut être acceptée"
    if (entry.fallback_reason is not None) != (bool(entry.attempts) and not accepted):
        yield "motif de repli incohérent avec les tentatives du modèle"
    if entry.mode == "locked" and (entry.origin == "model" or entry.attempts):
        yield "une section verrouillée n'est jamais confiée au modèle de langue"
    if entry.origin == "template" and (entry.text_sha256 != entry.vetted_sha256 or accepted):
        yield "un texte d'origine « modèle de courrier » doit être le texte validé"
    if entry.origin == "model" and not (accepted and accepted[0].text_sha256 == entry.text_sha256):
        yield "un texte d'origine « modèle de langue » doit être la sortie acceptée par les contrôles"
    if entry.origin == "human":
        edits = [edit for edit in record.edits if edit.section == entry.section]
        if not edits or edits[-1].after_sha256 != entry.text_sha256:
            yield "un texte d'origine « humaine » doit être celui de la dernière modification enregistrée"


def _edit_problems(record: ProvenanceRecord) -> Iterator[str]:
    """The recorded edits that no `Draft.edit` could have made: of an absent or fixed section, or of a
    locked one without the reason of its override."""
    modes = {entry.section: entry.mode for entry in record.paragraphs}
    for edit in record.edits:
        if edit.section not in modes:
            yield f"modification enregistrée d'une section absente du courrier : {edit.section}"
            continue
        refusal = edit_refusal(edit.section, modes[edit.section], override=True, reason=edit.reason)
        if refusal is not None:
            yield f"modification interdite de la section {edit.section} (version {edit.version}) : {refusal}"


def _version_problems(record: ProvenanceRecord) -> Iterator[str]:
    """How the record's version, change, edits and approval disagree with each other."""
    if (record.version == 1) != (record.previous_sha256 is None) or (record.version == 1) != (
        record.change == "drafted"
    ):
        yield "la version 1, et elle seule, est la rédaction initiale sans version précédente"
    versions = [edit.version for edit in record.edits]
    if versions != sorted(set(versions)) or any(not 1 < v <= record.version for v in versions):
        yield "les numéros de version des modifications sont incohérents"
    if record.change == "edited" and versions[-1:] != [record.version]:
        yield "la modification de cette version n'est pas enregistrée"
    approval = record.approval
    if (record.change == "approved") != (approval is not None) or (
        approval is not None and approval.version != record.version
    ):
        yield "l'approbation ne correspond pas à cette version"
