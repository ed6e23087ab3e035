"""Verification: does a draft's text match its provenance record, and the record its seal? And what
proves that the record is the one its agency made: its journal, or a signature.

Anyone can recompute a record's hashes: an intact draft with neither proof is consistent, not proven
(see docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Protocol

from ._canonical import text_sha256
from ._draft import Draft, Paragraph
from .drafting import LetterData
from .errors import IntegrityProblem, TemplateNotFound, UserError, VerificationError
from .guards import check_output
from .record import EditRecord, ParagraphRecord, overrides
from .rendering import (
    RenderedSection,
    SectionSpec,
    TemplateLibrary,
    ai_notice,
)
from .signing import signature_problem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["UNPROVEN", "Proof", "RecordAuthority", "Requirement", "Verification", "journal_problem", "verify"]

Proof = Literal["journal", "signature"]
"""What can prove that a record is the one its agency made: its journal, or a signature by its key."""

Requirement = Literal["journal", "signature", "any"]
"""The proof a verification demands: the journal's, the signature's, or either."""

UNPROVEN = (
    "non prouvé : texte, registre et sceau concordent, mais n'importe qui peut recalculer ces "
    "empreintes ; seuls le journal de l'organisme ou une signature prouvent le registre"
)
"""The note of a verification that established no proof."""


class RecordAuthority(Protocol):
    """Where an agency keeps the record hashes of the versions it made (`courrier.Journal` is one)."""

    def record_chain(self, draft_id: str) -> Sequence[str]:
        """The record hashes of the draft's versions 1..n, checked as a chain; empty if it has none."""
        ...


@dataclass(frozen=True)
class Verification:
    """What a successful verification covered.

    `proofs` says what proves the record (none: consistent, not proven); `overrides` lists the edits
    of vetted legal text, each with its author and reason; `notes` says what could not be checked.
    """

    draft_id: str
    version: int
    record_sha256: str
    paragraphs: int
    vetted_text_checked: bool
    signature_checked: bool
    proofs: tuple[Proof, ...] = ()
    overrides: tuple[EditRecord, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def proven(self) -> bool:
        """Whether the journal or a signature proves the record, beyond its recomputable hashes."""
        return bool(self.proofs)


def verify(
    draft: Draft,
    *,
    library: TemplateLibrary | None = None,
    public_key: Ed25519PublicKey | None = None,
    journal: RecordAuthority | None = None,
    require: Requirement | None = None,
) -> Verification:
    """Check a draft; raise `VerificationError` naming each paragraph (or part) that does not match.

    Always checked (`Draft.integrity_problems`): each paragraph's text against its record entry, each
    entry and the whole record against the seal, the request against its hash, each origin against
    its evidence (accepted attempt, recorded edit, vetted text), every edit against the rule of its
    section (`locked` text only by override), versions, approval and mentions.
    With `library`, the template is rendered again from the request: the sections, their modes and
    vetted texts (byte for byte, unless overridden), the required mentions and the AI notice must
    match it, and every model text must pass the guards again; a missing or changed template fails.
    With `journal`, the journal must hold this very version (a draft it lacks, or a different record
    under the same version, fails). With `public_key`, a valid signature by that key is required.
    `require` demands a proof ("journal", "signature" or "any"): without one, a draft that passes is
    consistent but not proven (`Verification.proven`), since anyone can recompute its hashes.
    """
    if (require == "journal" and journal is None) or (require == "signature" and public_key is None):
        raise UserError(
            f"preuve exigée « {require} » sans {'journal' if require == 'journal' else 'clé publique'}"
        )
    problems = list(draft.integrity_problems())
    notes: list[str] = []
    proofs: list[Proof] = []
    if library is not None and not problems:
        problems += _library_problems(draft, library)
    if journal is not None:
        chain = journal.record_chain(draft.id)
        problem = journal_problem(draft, chain)
        if problem is not None:
            problems.append(IntegrityProblem(f"journal : {problem}"))
        else:
            proofs.append("journal")
            if draft.version < len(chain):
                notes.append(
                    f"le journal a une version plus récente de ce brouillon : la version {len(chain)}"
                )
    if public_key is not None:
        reason = signature_problem(draft, public_key)
        if reason is not None:
            problems.append(IntegrityProblem(f"signature : {reason}"))
        else:
            proofs.append("signature")
    elif draft.signature is not None:
        notes.append("signature présente mais non vérifiée (aucune clé publique fournie)")
    if require is not None and not (proofs if require == "any" else require in proofs):
        wanted = "journal ou signature" if require == "any" else require
        problems.append(IntegrityProblem(f"preuve exigée ({wanted}) non établie"))
    if problems:
        raise VerificationError(problems)
    if not proofs:
        notes.append(UNPROVEN)
    return Verification(
        draft_id=draft.id,
        version=draft.version,
        record_sha256=draft.sha256,
        paragraphs=len(draft.paragraphs),
        vetted_text_checked=library is not None,
        signature_checked=public_key is not None,
        proofs=tuple(proofs),
        overrides=overrides(draft.provenance),
        notes=tuple(notes),
    )


def journal_problem(draft: Draft, chain: Sequence[str]) -> str | None:
    """Why the journal's chain does not hold this very version of the draft (None if it does)."""
    if draft.version > len(chain):
        where = "absent du journal" if not chain else f"au-delà de la version {len(chain)} du journal"
        return f"brouillon {draft.id} version {draft.version} {where} : registre non prouvé, peut-être forgé"
    if chain[draft.version - 1] != draft.sha256:
        return (
            f"le journal enregistre une autre version {draft.version} de ce brouillon (empreinte "
            f"{chain[draft.version - 1][:12]}…) : falsification ou bifurcation"
        )
    return None


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
    sections = [section.section for section in expected]
    notice = ai_notice(record.disclosure, template, draft.request, record.model, record.paragraphs, sections)
    if notice is not None:
        expected.insert(*notice)
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
    failed = [f"{verdict.guard} ({verdict.detail})" for verdict in verdicts if not verdict.passed]
    if failed:
        return f"le texte du modèle de langue échoue aux contrôles : {' ; '.join(failed)}"
    return None
