"""Verification: does a draft's text match its provenance record, and the record its seal?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ._canonical import text_sha256
from ._draft import Draft, Paragraph
from .drafting import LetterData
from .errors import IntegrityProblem, TemplateNotFound, VerificationError
from .guards import check_output
from .record import ParagraphRecord
from .rendering import (
    RenderedSection,
    SectionSpec,
    TemplateLibrary,
    disclosure_index,
    disclosure_notice,
    wants_disclosure,
)
from .signing import signature_problem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["Verification", "verify"]


@dataclass(frozen=True)
class Verification:
    """What a successful verification covered; `notes` says what it could not check."""

    draft_id: str
    version: int
    record_sha256: str
    paragraphs: int
    vetted_text_checked: bool
    signature_checked: bool
    notes: tuple[str, ...] = ()


def verify(
    draft: Draft,
    *,
    library: TemplateLibrary | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> Verification:
    """Check a draft; raise `VerificationError` naming each paragraph (or part) that does not match.

    Always checked (`Draft.integrity_problems`): each paragraph's text against its record entry, each
    entry and the whole record against the seal, the request against its hash, each origin against
    its evidence (accepted attempt, recorded edit, vetted text), versions, approval and mentions.
    With `library`, the template is rendered again from the request: the sections, their modes and
    vetted texts, the required mentions and the AI-assistance notice must match it, and every model
    text must pass the guards again; a template that is missing or has changed since drafting fails.
    With `public_key`, a valid signature by that key is required.
    """
    problems = list(draft.integrity_problems())
    notes: list[str] = []
    if library is not None and not problems:
        problems += _library_problems(draft, library)
    if public_key is not None:
        reason = signature_problem(draft, public_key)
        if reason is not None:
            problems.append(IntegrityProblem(f"signature : {reason}"))
    elif draft.signature is not None:
        notes.append("signature présente mais non vérifiée (aucune clé publique fournie)")
    if problems:
        raise VerificationError(problems)
    return Verification(
        draft_id=draft.id,
        version=draft.version,
        record_sha256=draft.sha256,
        paragraphs=len(draft.paragraphs),
        vetted_text_checked=library is not None,
        signature_checked=public_key is not None,
        notes=tuple(notes),
    )


def _library_problems(draft: Draft, library: TemplateLibrary) -> list[IntegrityProblem]:
    """Render the template again from the request and compare the draft with it."""
    record = draft.provenance
    try:
        template = library.get(draft.template.id)
    except TemplateNotFound:
        return [
            IntegrityProblem(f"modèle {draft.template.id} absent de la bibliothèque : textes non vérifiables")
        ]
    if template.sha256 != draft.template.sha256:
        return [
            IntegrityProblem(
                f"modèle {template.id} modifié depuis la rédaction (empreinte {template.sha256[:12]}… "
                f"au lieu de {draft.template.sha256[:12]}…) : textes non vérifiables avec cette bibliothèque"
            )
        ]
    facts = template.validate_facts(draft.request.facts)
    expected = template.render(draft.request, facts)
    if record.model is not None and wants_disclosure(record.disclosure, template, record.paragraphs):
        notice = disclosure_notice(template, draft.request, record.model)
        expected.insert(disclosure_index([section.section for section in expected]), notice)
    problems = []
    if record.required_mentions != template.manifest.required_mentions:
        problems.append(
            IntegrityProblem("les mentions obligatoires du registre diffèrent de celles du modèle")
        )
    sections = [paragraph.section for paragraph in draft.paragraphs]
    if sections != [section.section for section in expected]:
        problems.append(
            IntegrityProblem(
                f"sections du brouillon ({', '.join(sections)}) différentes de celles du modèle "
                f"({', '.join(section.section for section in expected)})"
            )
        )
        return problems
    letter = LetterData(template, draft.request, facts)
    specs = {spec.id: spec for spec in template.sections}
    for index, (paragraph, entry, vetted) in enumerate(
        zip(draft.paragraphs, record.paragraphs, expected, strict=True)
    ):
        message = _paragraph_problem(paragraph, entry, vetted, letter, specs)
        if message is not None:
            problems.append(IntegrityProblem(message, index, paragraph.section))
    return problems


def _paragraph_problem(
    paragraph: Paragraph,
    entry: ParagraphRecord,
    vetted: RenderedSection,
    letter: LetterData,
    specs: Mapping[str, SectionSpec],
) -> str | None:
    """How one paragraph differs from the template's rendering, if it does."""
    if paragraph.mode != vetted.mode:
        return f"mode {paragraph.mode} au lieu de {vetted.mode}"
    if entry.vetted_sha256 != text_sha256(vetted.text):
        return "le texte validé enregistré diffère du rendu du modèle"
    if paragraph.origin != "model":
        return None
    accepted = next((a for a in entry.attempts if a.accepted), None)
    context = letter.guard_context(specs[paragraph.section], vetted.text)
    finish_reason = accepted.usage.finish_reason if accepted and accepted.usage else None
    verdicts = check_output(paragraph.text, replace(context, finish_reason=finish_reason))
    failed = [verdict.guard for verdict in verdicts if not verdict.passed]
    if failed:
        return f"le texte du modèle de langue échoue aux contrôles : {', '.join(failed)}"
    return None
