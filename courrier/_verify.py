"""Verification: does a draft's text match its provenance record, and the record its seal?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._draft import Draft, missing_mentions
from ._errors import IntegrityProblem, TemplateNotFound, VerificationError
from ._manifest import DISCLOSURE_SECTION
from ._record import sha256_of, text_sha256
from ._signing import signature_problem
from ._templates import Template, TemplateLibrary

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

    Always checked: every paragraph's text against its record entry, every entry and the whole
    record against the seal, the request against its hash, template-origin paragraphs against their
    vetted hash, the recorded missing mentions. With `library`, the locked and vetted texts are
    rendered again from the request and compared; with `public_key`, the signature is required.
    """
    problems = _seal_problems(draft)
    notes: list[str] = []
    vetted_checked = False
    if library is not None and not problems:
        template = _same_template(draft, library, notes)
        if template is not None:
            problems += _vetted_problems(draft, template)
            vetted_checked = True
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
        vetted_text_checked=vetted_checked,
        signature_checked=public_key is not None,
        notes=tuple(notes),
    )


def _seal_problems(draft: Draft) -> list[IntegrityProblem]:
    record, integrity = draft.provenance, draft.integrity
    problems: list[IntegrityProblem] = []
    if record.draft_id != draft.id:
        problems.append(IntegrityProblem("l'identifiant du brouillon diffère de celui du registre"))
    if len({len(draft.paragraphs), len(record.paragraphs), len(integrity.paragraphs_sha256)}) != 1:
        problems.append(
            IntegrityProblem("le nombre de paragraphes diffère entre le texte, le registre et le sceau")
        )
        return problems
    for index, (paragraph, entry, sealed) in enumerate(
        zip(draft.paragraphs, record.paragraphs, integrity.paragraphs_sha256, strict=True)
    ):

        def problem(message: str, index: int = index, section: str = paragraph.section) -> None:
            problems.append(IntegrityProblem(message, index, section))

        if (paragraph.section, paragraph.mode, paragraph.origin) != (entry.section, entry.mode, entry.origin):
            problem("section, mode ou origine diffèrent du registre")
        if text_sha256(paragraph.text) != entry.text_sha256:
            problem("le texte ne correspond pas à son empreinte dans le registre")
        if sha256_of(entry) != sealed:
            problem("l'entrée du registre ne correspond pas au sceau")
        if entry.origin == "template" and entry.text_sha256 != entry.vetted_sha256:
            problem("un texte d'origine « modèle de courrier » doit être le texte validé")
    if sha256_of(record) != integrity.record_sha256 and not problems:
        problems.append(IntegrityProblem("le registre de provenance ne correspond pas au sceau"))
    if sha256_of(draft.request) != record.request_sha256:
        problems.append(IntegrityProblem("la demande ne correspond pas à son empreinte dans le registre"))
    if sha256_of(draft.request.facts) != record.facts_sha256:
        problems.append(IntegrityProblem("les faits ne correspondent pas à leur empreinte dans le registre"))
    missing = missing_mentions(draft.text, record.required_mentions)
    if missing != record.missing_mentions:
        problems.append(IntegrityProblem("les mentions obligatoires absentes diffèrent du registre"))
    if record.approval is not None and missing:
        problems.append(IntegrityProblem("version approuvée alors qu'une mention obligatoire manque"))
    return problems


def _same_template(draft: Draft, library: TemplateLibrary, notes: list[str]) -> Template | None:
    try:
        template = library.get(draft.template.id)
    except TemplateNotFound:
        notes.append(f"modèle {draft.template.id} absent de la bibliothèque : textes validés non recalculés")
        return None
    if template.sha256 != draft.template.sha256:
        notes.append(
            f"modèle {template.id} modifié depuis la rédaction (empreinte {template.sha256[:12]}… au lieu de "
            f"{draft.template.sha256[:12]}…) : textes validés non recalculés"
        )
        return None
    return template


def _vetted_problems(draft: Draft, template: Template) -> list[IntegrityProblem]:
    """Render the template again from the request; every paragraph's vetted hash must match."""
    facts = template.validate_facts(draft.request.facts)
    vetted = {section.section: text_sha256(section.text) for section in template.render(draft.request, facts)}
    problems = [
        IntegrityProblem(f"section {section} du modèle absente du brouillon")
        for section in sorted(vetted.keys() - {entry.section for entry in draft.provenance.paragraphs})
    ]
    for index, entry in enumerate(draft.provenance.paragraphs):
        if entry.section == DISCLOSURE_SECTION:
            continue
        if vetted.get(entry.section) != entry.vetted_sha256:
            problems.append(
                IntegrityProblem(
                    "le texte validé enregistré diffère du rendu du modèle", index, entry.section
                )
            )
    return problems
