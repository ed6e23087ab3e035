"""The Drafter: from a letter request to a sealed draft, section by section, under guards."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any, Literal, get_args

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, JsonValue, ValidationError

from ._draft import Draft, Paragraph, letter_text
from ._errors import InvalidRequest, UserError
from ._french import date_longue, montant
from ._guards import GuardContext, GuardVerdict, check_output, refused_early
from ._llm import GENERATION_PARAMETERS, LocalChatModel
from ._manifest import DISCLOSURE_SECTION, LAYOUT_AFTER_BODY, SectionSpec, missing_mentions
from ._models import LetterRequest, TemplateRef
from ._prompts import PromptTemplate, RenderedPrompt, Style, prompt_for
from ._record import (
    AttemptRecord,
    Disclosure,
    ModelRecord,
    ParagraphRecord,
    PromptRecord,
    ProvenanceRecord,
    Usage,
    seal,
    sha256_of,
    text_sha256,
)
from ._templates import RenderedSection, Template, TemplateLibrary
from ._validation import problems_from
from ._version import __version__

__all__ = [
    "Disclosure",
    "Drafter",
    "LetterData",
    "disclosure_index",
    "disclosure_notice",
    "model_record",
    "wants_disclosure",
]

_QUOTES = {"«": "»", '"': '"', "“": "”", "'": "'"}


class Drafter:
    """Drafts letters from a template library, with an optional chat model under guards.

    `llm` is any LangChain chat model: the local one (`Drafter.local()`), or one an integrator plugs
    in on purpose. With `llm=None` every section keeps its vetted text: the letter is complete with
    no model at all. Each model output goes through the guards; after `max_retries` rejected retries
    the section keeps its vetted text, and the provenance record says why.
    """

    def __init__(
        self,
        library: TemplateLibrary | None = None,
        llm: BaseChatModel | None = None,
        *,
        style: Style = "standard",
        max_retries: int = 1,
        disclosure: Disclosure = "auto",
    ) -> None:
        if max_retries < 0:
            raise UserError("max_retries doit être positif ou nul")
        if disclosure not in get_args(Disclosure):
            raise UserError(f"disclosure inconnu : {disclosure!r} (auto, always ou never)")
        self.library = library if library is not None else TemplateLibrary.default()
        self.llm = llm
        self.prompt: PromptTemplate = prompt_for(style)
        self.style = style
        self.max_retries = max_retries
        self.disclosure = disclosure

    @classmethod
    def local(cls, library: TemplateLibrary | None = None, **settings: Any) -> Drafter:
        """A drafter with the local model (the embedded default unless `settings` or the environment
        name another GGUF file). Drafting options (`style`, `max_retries`, `disclosure`) go to the
        drafter, every other setting to `LocalChatModel`."""
        options = {
            name: settings.pop(name) for name in ("style", "max_retries", "disclosure") if name in settings
        }
        return cls(library=library, llm=LocalChatModel.default(**settings), **options)

    def draft(self, request: LetterRequest | Mapping[str, Any]) -> Draft:
        """Draft one letter. Raise `InvalidRequest` naming every field at fault, before any work."""
        request = _as_request(request)
        template = self.library.get(request.template)
        facts = template.validate_facts(request.facts)
        request = request.model_copy(
            update={"facts": facts.model_dump(mode="json"), "date": request.date or dt.date.today()}
        )
        specs = {spec.id: spec for spec in template.sections}
        letter: LetterData | None = None  # what the model may see, built for the first section it writes
        paragraphs: list[Paragraph] = []
        entries: list[ParagraphRecord] = []
        for section in template.render(request, facts):
            spec = specs.get(section.section)
            if self.llm is None or spec is None or spec.mode == "locked":
                paragraph, entry = _vetted(section)
            else:
                letter = letter or LetterData(template, request, facts)
                paragraph, entry = self._write(self.llm, section, spec, letter)
            paragraphs.append(paragraph)
            entries.append(entry)
        model = model_record(self.llm) if self.llm is not None else None
        if model is not None and wants_disclosure(self.disclosure, template, entries):
            paragraph, entry = _vetted(disclosure_notice(template, request, model))
            at = disclosure_index([p.section for p in paragraphs])
            paragraphs.insert(at, paragraph)
            entries.insert(at, entry)
        draft_id = uuid.uuid4().hex
        record = ProvenanceRecord(
            draft_id=draft_id,
            version=1,
            change="drafted",
            previous_sha256=None,
            created_at=dt.datetime.now(dt.UTC),
            software={"name": "courrier", "version": __version__},
            template=TemplateRef(id=template.id, version=template.version, sha256=template.sha256),
            request_sha256=sha256_of(request),
            facts_sha256=sha256_of(request.facts),
            organisation=request.sender.organisation,
            signatory=f"{request.sender.signatory.first_name} {request.sender.signatory.last_name}, "
            f"{request.sender.signatory.role}",
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
        rejected: tuple[tuple[str, str], ...] = (),
    ) -> RenderedPrompt:
        """The prompt for one model-written section: the letter's data, the section's instructions,
        bounds and vetted text, and the outputs already refused with the reasons why."""
        if spec.instructions is None or spec.min_chars is None or spec.max_chars is None:
            raise UserError(f"la section {spec.id} est verrouillée : le modèle ne l'écrit pas")
        return self.prompt.render(
            mode=_model_mode(spec),
            section=spec.id,
            instructions=spec.instructions,
            min_chars=spec.min_chars,
            max_chars=spec.max_chars,
            data=letter.prompt_data,
            citizen=letter.citizen_texts,
            vetted=vetted_text,
            rejected=rejected,
        )

    def _write(
        self, llm: BaseChatModel, section: RenderedSection, spec: SectionSpec, letter: LetterData
    ) -> tuple[Paragraph, ParagraphRecord]:
        """Ask the model for one section; keep the first output every guard accepts, else the vetted text."""
        context = letter.guard_context(spec, section.text)
        attempts: list[AttemptRecord] = []
        rejected: list[tuple[str, str]] = []
        for number in range(1, self.max_retries + 2):
            prompt = self.section_prompt(letter, spec, section.text, tuple(rejected))
            prompt_record = PromptRecord(
                id=self.prompt.id, version=self.prompt.version, sha256=self.prompt.sha256,
                rendered_sha256=prompt.sha256,
            )  # fmt: skip
            overrides = _local_options(llm, context, prompt.shared)
            try:
                reply = llm.invoke(list(prompt.messages), **overrides)
            except Exception as error:  # noqa: BLE001 - any failure of a pluggable model falls back
                attempts.append(
                    AttemptRecord(
                        number=number,
                        prompt=prompt_record,
                        parameters=_parameters(llm, overrides),
                        error=f"{type(error).__name__}: {error}"[:500],
                        accepted=False,
                    )
                )
                break
            raw = reply.text
            checked = clean_output(raw)
            text = " ".join(checked.split())
            usage = _usage(reply)
            verdicts = check_output(checked, replace(context, finish_reason=usage.finish_reason))
            accepted = all(verdict.passed for verdict in verdicts)
            attempts.append(
                AttemptRecord(
                    number=number,
                    prompt=prompt_record,
                    parameters=_parameters(llm, reply.response_metadata),
                    usage=usage,
                    reproducible=reply.response_metadata.get("reproducible") is True,
                    output_sha256=text_sha256(raw),
                    text_sha256=text_sha256(text),
                    verdicts=verdicts,
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
            rejected.append((text, _reasons(verdicts)))
        paragraph, entry = _vetted(section)
        last = attempts[-1]
        reason = last.error or _reasons(last.verdicts)
        return paragraph, entry.model_copy(update={"attempts": tuple(attempts), "fallback_reason": reason})


def wants_disclosure(policy: Disclosure, template: Template, entries: Sequence[ParagraphRecord]) -> bool:
    """Whether a letter gets the AI-assistance notice: only if the guards accepted some model output."""
    if policy == "never" or not any(entry.attempts and entry.attempts[-1].accepted for entry in entries):
        return False
    return policy == "always" or template.manifest.decision


def disclosure_notice(template: Template, request: LetterRequest, model: ModelRecord) -> RenderedSection:
    """The vetted AI-assistance notice, built from the model's record."""
    text = template.render_disclosure(request, model_name=model.name, local=model.fingerprint is not None)
    return RenderedSection(DISCLOSURE_SECTION, "locked", text)


def disclosure_index(sections: Sequence[str]) -> int:
    """Where the notice goes: after the body, before the closing formula and the signature."""
    return len(sections) - sum(1 for section in sections if section in LAYOUT_AFTER_BODY)


class LetterData:
    """What the model may see of a letter, and what the guards accept as sources."""

    def __init__(self, template: Template, request: LetterRequest, facts: BaseModel) -> None:
        self.template = template
        citizen_fields = {spec.name for spec in template.manifest.fields if spec.citizen_text}
        self.citizen_texts = tuple(
            str(value) for name in sorted(citizen_fields) if (value := getattr(facts, name)) is not None
        )
        types = {spec.name: spec.type for spec in template.manifest.fields}
        trusted_facts = {
            name: _for_prompt(getattr(facts, name), types[name])
            for name in sorted(types)
            if name not in citizen_fields and getattr(facts, name) is not None
        }
        sender, recipient, references = request.sender, request.recipient, request.references
        assert request.date is not None
        self.prompt_data: dict[str, Any] = {
            "courrier": {
                "date": date_longue(request.date),
                "expediteur": sender.service or sender.organisation,
                "collectivite": sender.organisation,
                "destinataire": " ".join(filter(None, (recipient.civility, recipient.name))),
                "notre_reference": references.ours,
                "votre_reference": references.yours,
            },
            "faits": trusted_facts,
        }
        trusted_request = request.model_dump(mode="json")
        trusted_request["facts"] = {
            name: value for name, value in trusted_request["facts"].items() if name not in citizen_fields
        }
        self.trusted_sources = tuple(_leaves(self.prompt_data)) + tuple(_leaves(trusted_request))

    def guard_context(self, spec: SectionSpec, vetted_text: str) -> GuardContext:
        """What the guards check a model-written section against."""
        assert spec.min_chars is not None
        assert spec.max_chars is not None
        return GuardContext(
            mode=_model_mode(spec),
            vetted_text=vetted_text,
            trusted_sources=self.trusted_sources,
            citizen_texts=self.citizen_texts,
            min_chars=spec.min_chars,
            max_chars=spec.max_chars,
            mentions=self.template.manifest.required_mentions,
        )


def _model_mode(spec: SectionSpec) -> Literal["fill", "rephrase"]:
    """How the model writes a section that is not locked: it fills it, or rephrases its vetted text."""
    return "fill" if spec.mode == "fill" else "rephrase"


def _for_prompt(value: Any, field_type: str) -> Any:
    """A fact as the letter writes it: dates and amounts in French, lists as lists."""
    if field_type == "date":
        return date_longue(value)
    if field_type == "amount" and isinstance(value, Decimal):
        return montant(value)
    return value


def _leaves(value: Any) -> Iterator[str]:
    """Every scalar in a JSON-like value, as text."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def clean_output(raw: str) -> str:
    """A model's reply as the guards check it: one pair of enclosing quotes removed, each line
    stripped, blank lines dropped. Line breaks are kept for the guards that look at line starts; the
    letter then prints the text with each line break made a space."""
    text = raw.strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1]
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


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


def _parameters(llm: BaseChatModel, metadata: Mapping[str, Any]) -> dict[str, JsonValue]:
    """The sampling parameters of one call: those the reply reports, else the model's own settings."""
    defaults = llm.generation_parameters() if isinstance(llm, LocalChatModel) else {}
    if isinstance(llm, LocalChatModel):
        defaults["stop"] = llm.stop
    return {
        name: _json_safe(metadata.get(name, defaults.get(name)))
        for name in (*GENERATION_PARAMETERS, "stop")
        if name in metadata or name in defaults
    }


def _local_options(llm: BaseChatModel, context: GuardContext, shared_prefix: str) -> dict[str, Any]:
    """For the local model: a token budget that fits the section; a length past which generation
    stops, since the length guard would refuse the text (`clean_output` may take « and » and the
    spaces inside them off it); a check that stops a text the guards already refuse; and the prompt
    prefix that every section of the letter shares, evaluated once along a fixed path."""
    if isinstance(llm, LocalChatModel):
        return {
            "max_tokens": token_budget(llm, context.max_chars),
            "max_chars": context.max_chars + 4,
            "stop_when": partial(_refused_so_far, context),
            "shared_prefix": shared_prefix,
        }
    return {}


def token_budget(llm: LocalChatModel, max_chars: int) -> int:
    """The tokens a section may take: more than `max_chars` is refused anyway, and French runs at
    three to four characters a token."""
    return min(llm.max_tokens, max_chars // 3 + 16)


_SENTENCE_END = re.compile(
    r"(?:\w{4}|\d)[.!?…](?=\s+[«\"A-ZÀ-ÖØ-Þ])"  # « … 2027. Nous », not « sept. 2026 » nor « M. Morvan »
    r"|[.!?…:;)»\"](?=[ \t]*\n\s*[^\d\s])"  # a line ended by punctuation, not « 1\n234 »
    r"|[^\W\d](?=[ \t]*\n[ \t]*[{\[<#*|>-])"  # a word, then a line of markup: « DONNEES\n{ »
)
"""The end of a sentence, where no item the guards read can go on: a word of four letters or more or a
number, a full stop, a space and a capital that opens the next sentence; a punctuation mark, a
closing bracket or quote that ends a line, the next one not opening with a digit; or a word that ends
a line, the next one opening with markup."""


def _refused_so_far(context: GuardContext, text: str) -> bool:
    """While an output is generated: whether `EARLY_GUARDS` refuse it up to the last sentence end that
    its last pieces wrote (the window spans a few pieces). The lines are stripped as `clean_output`
    does, but quotes are kept: the whole text may not be quoted."""
    ends = list(_SENTENCE_END.finditer(text, max(0, len(text) - 16)))
    if not ends:
        return False
    lines = text[: ends[-1].end()].splitlines()
    return refused_early("\n".join(line.strip() for line in lines if line.strip()), context)


def _finish_reason(metadata: Mapping[str, Any]) -> str | None:
    """Why a chat model stopped, in lower case, whatever key its integration uses."""
    reason = next((metadata[key] for key in _FINISH_KEYS if metadata.get(key)), None)
    return str(reason).casefold() if reason is not None else None


_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")


def _usage(reply: BaseMessage) -> Usage:
    usage = getattr(reply, "usage_metadata", None) or {}
    metadata = reply.response_metadata
    return Usage(
        input_tokens=usage.get("input_tokens"),
        evaluated_input_tokens=metadata.get("prompt_tokens_evaluated"),
        prefix_stages=tuple(metadata.get("prefix_stages") or ()),
        output_tokens=usage.get("output_tokens"),
        finish_reason=_finish_reason(metadata),
        prompt_seconds=metadata.get("prompt_seconds"),
        generation_seconds=metadata.get("generation_seconds"),
    )


def _json_safe(value: Any) -> JsonValue:
    """A reported value as canonical JSON can hold it: other types, huge integers and non-finite
    floats (which RFC 8785 cannot represent) become text."""
    if value is None or isinstance(value, bool | str):
        return value
    if (isinstance(value, int) and abs(value) < 2**53) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return str(value)


def model_record(llm: BaseChatModel) -> ModelRecord:
    """The model part of the provenance: the GGUF fingerprint and load settings for the local model,
    the LangChain type and identifying parameters for any other chat model."""
    if isinstance(llm, LocalChatModel):
        return ModelRecord(
            kind=llm._llm_type,
            fingerprint=llm.fingerprint,
            settings=dict(llm.load_settings()),
        )
    return ModelRecord(
        kind=llm._llm_type,
        settings={
            name: _json_safe(value)
            for name, value in sorted(llm._identifying_params.items())
            if value is None or isinstance(value, bool | int | float | str)
        },
    )


def _as_request(request: LetterRequest | Mapping[str, Any]) -> LetterRequest:
    if isinstance(request, LetterRequest):
        return request
    try:
        return LetterRequest.model_validate(request)
    except ValidationError as error:
        raise InvalidRequest(problems_from(error)) from error
