"""The Drafter: from a letter request to a sealed draft, section by section, under guards."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, get_args

from .._canonical import sha256_of, text_sha256
from .._draft import Draft, Paragraph, letter_text
from .._request import LetterRequest
from .._version import __version__
from ..errors import UserError
from ..guards import QUOTE_SLACK, EarlyCheck, check_output, clean_output, word_lists
from ..port import CallOptions, ChatPort
from ..record import (
    AttemptRecord,
    Disclosure,
    GuardVerdict,
    ParagraphRecord,
    PromptRecord,
    ProvenanceRecord,
    TemplateRef,
    missing_mentions,
    seal,
)
from ..rendering import (
    RenderedSection,
    SectionSpec,
    TemplateLibrary,
    ai_notice,
)
from ._letter import LetterData, model_mode
from ._prompts import PromptTemplate, RenderedPrompt, Style, prompt_for

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from ..model import LocalEngine

__all__ = ["Clock", "Drafter"]

Clock = Callable[[], dt.datetime]
"""What tells the drafter the time: an aware datetime (the letter is dated in local time)."""

_ERROR_CHARS = 500
_RETRY_REASON_CHARS = 600
"""How much of the guards' reasons a retry prompt carries: enough to name what to avoid."""
"""How much of a failed call's error message the record keeps."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Drafter:
    """Drafts letters from a template library, with an optional chat model under guards.

    `llm` is the local model's engine (`Drafter.local()`, a `courrier.model.LocalEngine`), or any
    LangChain chat model an integrator plugs in on purpose (a `LocalChatModel` drafts as the engine
    does). With `llm=None` every section keeps its vetted text: the letter is complete with no model
    at all. Each model output goes through the guards; after `max_retries` rejected retries
    the section keeps its vetted text, and the provenance record says why. `clock` dates the record,
    and the letter when its request gives no date.
    """

    def __init__(
        self,
        library: TemplateLibrary | None = None,
        llm: LocalEngine | BaseChatModel | None = None,
        *,
        style: Style = "standard",
        max_retries: int = 1,
        disclosure: Disclosure = "auto",
        clock: Clock = _utc_now,
    ) -> None:
        if max_retries < 0:
            raise UserError("max_retries doit être positif ou nul")
        if disclosure not in get_args(Disclosure):
            raise UserError(f"disclosure inconnu : {disclosure!r} (auto, always ou never)")
        self.library = library if library is not None else TemplateLibrary.default()
        self.llm = llm
        self.port: ChatPort | None = None if llm is None else _port_for(llm)
        self.prompt: PromptTemplate = prompt_for(style)
        self.style = style
        self.max_retries = max_retries
        self.disclosure = disclosure
        self.clock = clock

    @classmethod
    def local(
        cls,
        library: TemplateLibrary | None = None,
        *,
        style: Style = "standard",
        max_retries: int = 1,
        disclosure: Disclosure = "auto",
        **settings: Any,
    ) -> Drafter:
        """A drafter with the local model: the embedded default unless `settings` (`LocalEngine`'s)
        or the environment name another GGUF file. It loads llama.cpp, not LangChain."""
        from ..model import LocalEngine  # the model layer, loaded only for a drafter with a model

        return cls(
            library=library,
            llm=LocalEngine(**settings),
            style=style,
            max_retries=max_retries,
            disclosure=disclosure,
        )

    def draft(self, request: LetterRequest | Mapping[str, Any]) -> Draft:
        """Draft one letter. Raise `InvalidRequest` naming every field at fault, of the request and of
        its facts together, before any work."""
        if not isinstance(request, LetterRequest):
            request = LetterRequest.from_data(request, library=self.library)
        template = self.library.get(request.template)
        facts = template.validate_facts(request.facts)
        now = self.clock()
        request = request.model_copy(
            update={"facts": facts.model_dump(mode="json"), "date": request.date or now.astimezone().date()}
        )
        specs = {spec.id: spec for spec in template.sections}
        letter: LetterData | None = None  # what the model may see, built for the first section it writes
        paragraphs: list[Paragraph] = []
        entries: list[ParagraphRecord] = []
        for section in template.render(request, facts):
            spec = specs.get(section.section)
            if self.port is None or spec is None or spec.mode == "locked":
                paragraph, entry = _vetted(section)
            else:
                letter = letter or LetterData(template, request, facts)
                paragraph, entry = self._write(self.port, section, spec, letter)
            paragraphs.append(paragraph)
            entries.append(entry)
        model = self.port.record if self.port is not None else None
        notice = ai_notice(
            self.disclosure, template, request, model, entries, [p.section for p in paragraphs]
        )
        if notice is not None:
            at, section = notice
            paragraph, entry = _vetted(section)
            paragraphs.insert(at, paragraph)
            entries.insert(at, entry)
        draft_id = uuid.uuid4().hex
        record = ProvenanceRecord(
            draft_id=draft_id,
            version=1,
            change="drafted",
            previous_sha256=None,
            created_at=now,
            software={"name": "courrier", "version": __version__},
            template=TemplateRef(id=template.id, version=template.version, sha256=template.sha256),
            request_sha256=sha256_of(request),
            facts_sha256=sha256_of(request.facts),
            organisation=request.sender.organisation,
            signatory=request.sender.signatory.label,
            model=model,
            style=self.style if model is not None else None,
            max_retries=self.max_retries,
            disclosure=self.disclosure,
            required_mentions=template.manifest.required_mentions,
            missing_mentions=missing_mentions(letter_text(paragraphs), template.manifest.required_mentions),
            paragraphs=tuple(entries),
        )
        return Draft(
            id=draft_id,
            request=request,
            paragraphs=tuple(paragraphs),
            provenance=record,
            integrity=seal(record),
        )

    def section_prompt(
        self,
        letter: LetterData,
        spec: SectionSpec,
        vetted_text: str,
        refusals: tuple[str, ...] = (),
    ) -> RenderedPrompt:
        """The prompt for one model-written section: the letter's data, the section's instructions,
        bounds and vetted text, and why the outputs already refused were refused."""
        if spec.instructions is None or spec.min_chars is None or spec.max_chars is None:
            raise UserError(f"la section {spec.id} est verrouillée : le modèle ne l'écrit pas")
        return self.prompt.render(
            mode=model_mode(spec),
            section=spec.id,
            instructions=spec.instructions,
            min_chars=spec.min_chars,
            max_chars=spec.max_chars,
            data=letter.prompt_data,
            citizen=letter.citizen_texts,
            vetted=vetted_text,
            refusals=refusals,
        )

    def _write(
        self, port: ChatPort, section: RenderedSection, spec: SectionSpec, letter: LetterData
    ) -> tuple[Paragraph, ParagraphRecord]:
        """Ask the model for one section; keep the first output every guard accepts, else the vetted text."""
        context = letter.guard_context(spec, section.text)
        attempts: list[AttemptRecord] = []
        refusals: list[str] = []
        for number in range(1, self.max_retries + 2):
            prompt = self.section_prompt(letter, spec, section.text, tuple(refusals))
            prompt_record = PromptRecord(
                id=self.prompt.id, version=self.prompt.version, sha256=self.prompt.sha256,
                rendered_sha256=prompt.sha256,
            )  # fmt: skip
            # The length guard refuses a text past max_chars once cleaned; the guards already
            # refusing its first sentences refuse it whole: generation stops at either.
            options = CallOptions(
                max_tokens=port.token_budget(context.max_chars),
                max_chars=context.max_chars + QUOTE_SLACK,
                stop_when=EarlyCheck(context),
                shared_prefix=prompt.shared,
            )
            try:
                reply = port.invoke(prompt.messages, options)
            except Exception as error:  # noqa: BLE001 - any failure of a pluggable model falls back
                attempts.append(
                    AttemptRecord(
                        number=number,
                        prompt=prompt_record,
                        parameters=port.parameters(options),
                        error=f"{type(error).__name__}: {error}"[:_ERROR_CHARS],
                        accepted=False,
                    )
                )
                break
            checked = clean_output(reply.text)
            text = " ".join(checked.split())
            verdicts = check_output(checked, replace(context, finish_reason=reply.usage.finish_reason))
            accepted = all(verdict.passed for verdict in verdicts)
            attempts.append(
                AttemptRecord(
                    number=number,
                    prompt=prompt_record,
                    parameters=dict(reply.parameters),
                    usage=reply.usage,
                    reproducible=reply.reproducible,
                    output_sha256=text_sha256(reply.text),
                    text_sha256=text_sha256(text),
                    verdicts=verdicts,
                    word_lists=word_lists(),
                    accepted=accepted,
                )
            )
            if accepted:
                return (
                    Paragraph(section=section.section, mode=section.mode, origin="model", text=text),
                    ParagraphRecord(
                        section=section.section,
                        mode=section.mode,
                        origin="model",
                        vetted_sha256=text_sha256(section.text),
                        text_sha256=text_sha256(text),
                        attempts=tuple(attempts),
                    ),
                )
            refusals.append(_reasons(verdicts)[:_RETRY_REASON_CHARS])
        paragraph, entry = _vetted(section)
        last = attempts[-1]
        reason = last.error or _reasons(last.verdicts)
        return paragraph, entry.model_copy(update={"attempts": tuple(attempts), "fallback_reason": reason})


def _port_for(llm: LocalEngine | BaseChatModel) -> ChatPort:
    # The model layer, loaded only for a drafter with a model; it loads no LangChain for the local
    # engine, and a LangChain chat model has loaded LangChain already.
    from ..model import port_for

    return port_for(llm)


def _reasons(verdicts: tuple[GuardVerdict, ...]) -> str:
    return " ; ".join(f"{v.guard} : {v.detail or 'refusé'}" for v in verdicts if not v.passed)


def _vetted(section: RenderedSection) -> tuple[Paragraph, ParagraphRecord]:
    digest = text_sha256(section.text)
    return (
        Paragraph(section=section.section, mode=section.mode, origin="template", text=section.text),
        ParagraphRecord(
            section=section.section,
            mode=section.mode,
            origin="template",
            vetted_sha256=digest,
            text_sha256=digest,
        ),
    )
