"""Replay: draft a letter again from its provenance and say, per paragraph, if the model wrote the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._draft import Draft
from .drafting import Drafter
from .errors import UserError
from .model import LOAD_SETTINGS, LocalEngine
from .port import GENERATION_PARAMETERS
from .rendering import TemplateLibrary

__all__ = ["ReplayedParagraph", "model_for_replay", "replay"]


@dataclass(frozen=True)
class ReplayedParagraph:
    """One model-written (or model-attempted) paragraph, generated again: the same outputs or not."""

    index: int
    section: str
    attempts: int
    identical: bool
    reproducible: bool


def replay(draft: Draft, *, library: TemplateLibrary, llm: LocalEngine) -> list[ReplayedParagraph]:
    """Draft the letter again with the recorded template, style, retries and model, and compare every
    attempt's prompt and output hashes with the record.

    `llm` (the local engine, or a `LocalChatModel`) must run the recorded model file with the recorded
    settings (`UserError` otherwise); only attempts generated in reproducible mode are expected to be
    identical.
    """
    record = draft.provenance
    if record.model is None or record.model.fingerprint is None or record.style is None:
        raise UserError("ce brouillon n'a pas été rédigé avec le modèle local : rien à rejouer")
    if llm.fingerprint.sha256 != record.model.fingerprint.sha256:
        raise UserError(
            f"fichier de modèle différent : {llm.fingerprint.file_name} ({llm.fingerprint.sha256[:12]}…) "
            f"au lieu de {record.model.fingerprint.file_name} ({record.model.fingerprint.sha256[:12]}…)"
        )
    if library.get(record.template.id).sha256 != record.template.sha256:
        raise UserError(
            f"modèle de courrier {record.template.id} modifié depuis la rédaction : rejeu impossible"
        )
    drafter = Drafter(
        library=library,
        llm=llm,
        style=record.style,  # type: ignore[arg-type]
        max_retries=record.max_retries,
        disclosure=record.disclosure,
    )
    again = drafter.draft(draft.request).provenance.paragraphs
    replayed = []
    for index, entry in enumerate(record.paragraphs):
        if not entry.attempts:
            continue
        new = next((e for e in again if e.section == entry.section), None)
        before = [(a.prompt.rendered_sha256, a.output_sha256) for a in entry.attempts]
        after = [(a.prompt.rendered_sha256, a.output_sha256) for a in new.attempts] if new else []
        replayed.append(
            ReplayedParagraph(
                index=index,
                section=entry.section,
                attempts=len(entry.attempts),
                identical=before == after,
                reproducible=all(a.reproducible for a in entry.attempts),
            )
        )
    return replayed


def model_for_replay(draft: Draft, model_path: str | None) -> LocalEngine:
    """The local engine with the settings and sampling parameters recorded in the draft."""
    record = draft.provenance
    if record.model is None:
        raise UserError("ce brouillon n'a pas été rédigé avec un modèle : rien à rejouer")
    first = next((a for entry in record.paragraphs for a in entry.attempts), None)
    sampling = {
        name: first.parameters[name]
        for name in GENERATION_PARAMETERS
        if name != "max_tokens" and first is not None and name in first.parameters  # set per section
    }
    recorded = record.model.settings
    settings: dict[str, Any] = {"prompt_lookup": 0}  # off in records made before it was a setting
    settings.update({name: recorded[name] for name in LOAD_SETTINGS if name in recorded})
    return LocalEngine(**({"model_path": model_path} if model_path else {}), **settings, **sampling)
