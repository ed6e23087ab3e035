"""Where the layout puts what the template does not write: the AI-assistance notice."""

from __future__ import annotations

from collections.abc import Sequence

from .._request import LetterRequest
from ..record import Disclosure, ModelRecord, ParagraphRecord
from ._library import RenderedSection, Template
from ._manifest import DISCLOSURE_SECTION, LAYOUT_AFTER_BODY

__all__ = ["ai_notice"]


def ai_notice(
    policy: Disclosure,
    template: Template,
    request: LetterRequest,
    model: ModelRecord | None,
    entries: Sequence[ParagraphRecord],
    sections: Sequence[str],
) -> tuple[int, RenderedSection] | None:
    """The AI-assistance notice of a letter and the index where it goes among `sections`, or None when
    the letter gets none: the one rule that drafting follows and that verification checks again."""
    if model is None or not _wants_disclosure(policy, template, entries):
        return None
    return _disclosure_index(sections), _disclosure_notice(template, request, model)


def _wants_disclosure(policy: Disclosure, template: Template, entries: Sequence[ParagraphRecord]) -> bool:
    """Whether a letter gets the AI-assistance notice: only if the guards accepted some model output."""
    if policy == "never" or not any(entry.attempts and entry.attempts[-1].accepted for entry in entries):
        return False
    return policy == "always" or template.manifest.decision


def _disclosure_notice(template: Template, request: LetterRequest, model: ModelRecord) -> RenderedSection:
    """The vetted AI-assistance notice, built from the model's record."""
    text = template.render_disclosure(request, model_name=model.name, local=model.fingerprint is not None)
    return RenderedSection(DISCLOSURE_SECTION, "locked", text)


def _disclosure_index(sections: Sequence[str]) -> int:
    """Where the notice goes: after the body, before the closing formula and the signature."""
    return len(sections) - sum(1 for section in sections if section in LAYOUT_AFTER_BODY)
