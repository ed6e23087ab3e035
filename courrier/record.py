"""The provenance record of a draft: every type that is hashed, and the seal. This module is the
record's contract: changing a field here changes every hash recorded in past drafts and journals.

A record's hash is the SHA-256 of its RFC 8785 canonical JSON, taken from pydantic's JSON mode (see
`canonical_json`). Every part of a record is defined here, and nothing here depends on the model, the
templates or the guards, so reading and verifying a record imports none of them.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import ClassVar, Literal, get_args

import re2
from pydantic import ConfigDict, Field, JsonValue, model_validator

from ._canonical import Canonical, canonical_json, canonical_text, encode, sha256_hex, sha256_of, text_sha256
from ._validation import FrozenModel, Text

__all__ = [
    "DISCLOSURE_SECTION",
    "FIXED_SECTIONS",
    "GUARD_NAMES",
    "SIGNATURE_SECTION",
    "ApprovalRecord",
    "AttemptRecord",
    "Change",
    "Decision",
    "Disclosure",
    "EditRecord",
    "GuardName",
    "GuardVerdict",
    "Integrity",
    "MentionSpec",
    "ModelFingerprint",
    "ModelRecord",
    "Origin",
    "ParagraphRecord",
    "PromptRecord",
    "ProvenanceRecord",
    "SectionMode",
    "Signature",
    "TemplateRef",
    "Usage",
    "canonical_json",
    "edit_refusal",
    "missing_mentions",
    "overrides",
    "seal",
    "sha256_hex",
    "sha256_of",
    "text_sha256",
]

Change = Literal["drafted", "edited", "approved"]
"""What made a version of a draft."""

Disclosure = Literal["auto", "always", "never"]
"""When to add the notice that a model drafted part of the letter: for decisions only (auto), for
every letter with model-written text (always), or never. No notice when no model text was kept."""

SectionMode = Literal["locked", "rephrase", "fill"]
"""How a section is produced: vetted text kept as is, vetted text a model may rewrite, or model-written."""

Origin = Literal["template", "model", "human"]
"""Who produced a paragraph's text."""

Decision = Literal["acceptation", "refus", "partielle", "aucune"]
"""What a letter decides, as its template states it (`decides`): the guards refuse an output that
states another decision."""

SIGNATURE_SECTION = "signature"
DISCLOSURE_SECTION = "mention_ia"

FIXED_SECTIONS: dict[str, str] = {
    SIGNATURE_SECTION: "le signataire (prénom, nom, qualité : CRPA L212-1) est celui de la demande et du "
    "registre ; pour en changer, rédigez de nouveau le courrier avec le bon signataire",
    DISCLOSURE_SECTION: "la mention d'assistance par IA découle de la provenance du courrier",
}
"""The sections that no edit may change, and why: their text follows the request or the record."""


def edit_refusal(section: str, mode: SectionMode, *, override: bool, reason: str | None) -> str | None:
    """Why a person may not change this section's text (None if they may): the one rule that
    `Draft.edit` applies and that verification applies again to every recorded edit.

    A `locked` section (vetted legal text, the layout) changes only by an override with its reason, and
    the record shows it as one: an edit of a locked section. `FIXED_SECTIONS` never change.
    """
    if section in FIXED_SECTIONS:
        return FIXED_SECTIONS[section]
    if mode == "locked" and not (override and reason and any(char.isalnum() for char in reason)):
        return "texte juridique validé : une modification exige une dérogation explicite et son motif"
    return None


GuardName = Literal[
    "length",
    "complete",
    "french",
    "artefacts",
    "invented_items",
    "kept_items",
    "mentions_kept",
    "supported",
    "polarity",
    "no_new_commitment",
    "no_listed_term",
    "no_repetition",
    "no_citizen_copy",
]
"""The guards, as verdicts name them (see `courrier.guards`)."""

GUARD_NAMES: tuple[GuardName, ...] = get_args(GuardName)
"""Every guard, in the order `check_output` runs them."""


class TemplateRef(FrozenModel):
    """Which vetted template produced a draft: id, version and the SHA-256 of its sources."""

    id: str
    version: str
    sha256: str


MAX_MENTION_CHARS = 2_000
"""The longest text or pattern of a required mention."""

MAX_MENTIONS = 50
"""The most required mentions a template (and so a record) may have: each pattern costs a compilation."""

RE2_MAX_MEM = 1 << 20
"""RE2's memory budget for one mention's program: a pattern past it is refused in milliseconds."""


class MentionSpec(FrozenModel):
    r"""A mention the final letter must contain: a literal text or a regular expression.

    Patterns run on RE2, whose time grows with the text only (Python's `re` backtracks: a pattern such
    as `^(\w+\s?)*$` takes minutes on a letter). They read as Python's: `\w` and `\d` are Unicode
    (« décembre » is a word), as `re` has them, where RE2's are ASCII. A pattern that RE2 cannot run
    (backreferences, lookarounds) is refused, and so are `\b` and `\B`, which RE2 knows in ASCII only.
    The record keeps the pattern as written: the engine is not part of the hash.
    """

    label: Text = Field(min_length=1, max_length=500)
    text: str | None = Field(default=None, min_length=1, max_length=MAX_MENTION_CHARS)
    pattern: str | None = Field(default=None, min_length=1, max_length=MAX_MENTION_CHARS)

    _UNICODE_CLASSES: ClassVar[dict[str, tuple[str, str | None]]] = {
        "w": (r"[\p{L}\p{N}_]", r"\p{L}\p{N}_"),
        "W": (r"[^\p{L}\p{N}_]", None),
        "d": (r"\p{Nd}", r"\p{Nd}"),
        "D": (r"\P{Nd}", r"\P{Nd}"),
    }
    """Python's classes in RE2: outside a set `[...]`, and inside one (None: no way to write it there)."""

    _RE2_ERRORS: ClassVar[dict[str, str]] = {
        "invalid escape sequence": "échappement inconnu de RE2 (une référence arrière comme \\1 est exclue)",
        "invalid perl operator": "construction inconnue de RE2 (une assertion comme (?= ou (?<! est exclue)",
        "missing )": "parenthèse fermante manquante",
        "unexpected )": "parenthèse fermante en trop",
        "missing ]": "crochet fermant manquant",
        "bad repetition operator": "répétition mal placée",
        "invalid nested repetition operator": "répétition de répétition",
        "invalid repetition size": "nombre de répétitions invalide",
        "missing argument to repetition operator": "répétition de rien",
        "invalid character class": "classe de caractères invalide",
        "invalid character class range": "intervalle de caractères invalide",
        "trailing \\": "barre oblique inverse finale",
        "invalid named capture group": "nom de groupe invalide",
        "duplicate capture group name": "nom de groupe en double",
        "pattern too large - compile failed": "expression trop grande",
    }
    """RE2's error codes, in French."""

    @model_validator(mode="after")
    def _one_of_text_or_pattern(self) -> MentionSpec:
        if (self.text is None) == (self.pattern is None):
            raise ValueError("une mention a soit `text`, soit `pattern`")
        if self.pattern is not None:
            MentionSpec._compiled(self.pattern, literal=False)
        return self

    @staticmethod
    def _compiled(expression: str, *, literal: bool) -> re2._Regexp[str]:
        """RE2's program for a pattern (or a literal text); `ValueError` in French if RE2 refuses it."""
        program = MentionSpec._program(expression, literal=literal)
        if isinstance(program, str):
            raise ValueError(program)
        return program

    def regex(self) -> re2._Regexp[str]:
        """The compiled search pattern, over text whose whitespace runs are collapsed to one space."""
        if self.pattern is not None:
            return MentionSpec._compiled(self.pattern, literal=False)
        assert self.text is not None
        return MentionSpec._compiled(" ".join(self.text.split()), literal=True)

    @staticmethod
    @functools.cache
    def _program(expression: str, *, literal: bool) -> re2._Regexp[str] | str:
        """RE2's program for a pattern or a literal text, or why RE2 refuses it: a refusal is cached too,
        so that a record repeating one costly pattern costs one compilation."""
        options = re2.Options()
        options.log_errors = False  # RE2 would print its own message on stderr
        options.max_mem = RE2_MAX_MEM
        try:
            source = re2.escape(expression) if literal else MentionSpec._unicode(expression)
            return re2.compile(source, options)
        except ValueError as error:
            return str(error)
        except re2.error as error:
            detail = error.args[0].decode("utf-8", "replace") if error.args else ""
            code, _, fragment = detail.partition(": ")
            reason = MentionSpec._RE2_ERRORS.get(code, "syntaxe inconnue de RE2")
            return f"expression régulière refusée, {reason} : {fragment or expression}"

    @staticmethod
    def _unicode(pattern: str) -> str:
        r"""`pattern` with Python's Unicode classes (`\w`, `\W`, `\d`, `\D`) spelled for RE2."""
        written: list[str] = []
        in_set = False
        position = 0
        while position < len(pattern):
            char = pattern[position]
            if char == "\\" and position + 1 < len(pattern):
                escaped = pattern[position + 1]
                if escaped in "bB":
                    raise ValueError(
                        f"expression régulière refusée, \\{escaped} (limite de mot) n'est pas pris en charge"
                    )
                outside, inside = MentionSpec._UNICODE_CLASSES.get(
                    escaped, (pattern[position : position + 2],) * 2
                )
                replacement = inside if in_set else outside
                if replacement is None:
                    raise ValueError(f"expression régulière refusée, \\{escaped} dans un ensemble [...]")
                written.append(replacement)
                position += 2
                continue
            if char == "[" and not in_set:
                in_set = True
                # A `]` right after `[` or `[^` is a character of the set, not its end.
                opening = 2 if pattern.startswith("^", position + 1) else 1
                if pattern.startswith("]", position + opening):
                    opening += 1
                written.append(pattern[position : position + opening])
                position += opening
                continue
            if char == "]" and in_set:
                in_set = False
            written.append(char)
            position += 1
        return "".join(written)


def missing_mentions(text: str, mentions: tuple[MentionSpec, ...]) -> tuple[str, ...]:
    """The labels of the mentions that `text` lacks (whitespace runs count as one space)."""
    flat = " ".join(text.split())
    return tuple(m.label for m in mentions if not m.regex().search(flat))


class GuardVerdict(FrozenModel):
    """One guard's verdict on one output."""

    guard: GuardName
    passed: bool
    detail: str | None = None
    items: tuple[str, ...] = ()


class ModelFingerprint(FrozenModel):
    """What identifies a model file and the code that runs it, for the provenance record."""

    file_name: str
    size: int
    sha256: str
    name: str | None
    architecture: str | None
    quantization: str | None
    chat_template_sha256: str | None
    llama_cpp_python: str


class PromptRecord(FrozenModel):
    """The prompt file used (id, version, SHA-256 of its bytes) and the hash of the rendered messages."""

    id: str
    version: str
    sha256: str
    rendered_sha256: str


class Usage(FrozenModel):
    """Tokens, finish reason and timings of one generation, as far as the chat model reports them."""

    input_tokens: int | None = None
    evaluated_input_tokens: int | None = Field(
        default=None, description="Prompt tokens evaluated for this call: those not reused from the cache."
    )
    prefix_stages: tuple[int, ...] = Field(
        default=(), description="Reproducible mode: where the system message and the shared data end."
    )
    output_tokens: int | None = None
    finish_reason: str | None = None
    prompt_seconds: float | None = None
    generation_seconds: float | None = None


class AttemptRecord(FrozenModel):
    """One call to the model for a section: what was asked, what came back, and the guards' verdicts."""

    number: int = Field(ge=1)
    prompt: PromptRecord
    parameters: dict[str, JsonValue]
    usage: Usage | None = None
    reproducible: bool = Field(
        default=False,
        description="Generated along a fixed evaluation path (`LocalChatModel(reproducible=True)`): the "
        "same model file, build, settings and prompt give the same output again (`courrier replay`).",
    )
    output_sha256: str | None = Field(default=None, description="SHA-256 of the model's raw reply.")
    text_sha256: str | None = Field(
        default=None, description="SHA-256 of the reply as the letter would print it, once cleaned."
    )
    error: str | None = None
    verdicts: tuple[GuardVerdict, ...] = ()
    word_lists: dict[str, str] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The guards' reviewed word lists the verdicts were given with: file name, then "
        "version and SHA-256 (`courrier.guards.word_lists`). Absent from records made before them.",
    )
    accepted: bool


class ParagraphRecord(FrozenModel):
    """The provenance of one paragraph. `vetted_sha256` is the hash of the template's rendering."""

    section: Text
    mode: SectionMode
    origin: Origin
    vetted_sha256: str
    text_sha256: str
    attempts: tuple[AttemptRecord, ...] = ()
    fallback_reason: str | None = None


class ModelRecord(FrozenModel):
    """The chat model: its kind, the GGUF fingerprint for the local model, and its load settings."""

    kind: str
    fingerprint: ModelFingerprint | None = None
    settings: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """A readable name: the GGUF's own name, else its file name, else the model kind."""
        if self.fingerprint is None:
            return self.kind
        return self.fingerprint.name or self.fingerprint.file_name


class EditRecord(FrozenModel):
    """A human edit of one paragraph."""

    version: int
    section: Text
    author: Text
    reason: Text | None
    at: dt.datetime
    before_sha256: str
    after_sha256: str


class ApprovalRecord(FrozenModel):
    """Who approved a version of the letter, in which capacity (`role`, the « qualité » of CRPA
    L212-1, as `Signatory.role`), and when."""

    # The record names the capacity "qualite", as it always has: renaming a hashed field would change
    # every approved record's hash. Python calls it `role`, as everywhere else in courrier.
    model_config = ConfigDict(
        extra="forbid", frozen=True, serialize_by_alias=True, validate_by_name=True, validate_by_alias=True
    )

    version: int
    by: Text
    role: Text = Field(alias="qualite")
    at: dt.datetime


class ProvenanceRecord(FrozenModel):
    """Everything that produced one version of a draft. Facts appear only as hashes."""

    schema_version: Literal[1] = 1
    draft_id: Text
    version: int = Field(ge=1)
    change: Change
    previous_sha256: str | None
    created_at: dt.datetime
    software: dict[str, str]
    template: TemplateRef
    request_sha256: str
    facts_sha256: str
    organisation: Text
    signatory: Text
    model: ModelRecord | None
    style: str | None
    max_retries: int = Field(ge=0, le=100)
    disclosure: Disclosure
    required_mentions: tuple[MentionSpec, ...] = Field(max_length=MAX_MENTIONS)
    missing_mentions: tuple[str, ...]
    paragraphs: tuple[ParagraphRecord, ...]
    edits: tuple[EditRecord, ...] = ()
    approval: ApprovalRecord | None = None


def overrides(record: ProvenanceRecord) -> tuple[EditRecord, ...]:
    """The recorded edits of `locked` sections: each one an override of vetted text, with its reason."""
    locked = {entry.section for entry in record.paragraphs if entry.mode == "locked"}
    return tuple(edit for edit in record.edits if edit.section in locked)


class Integrity(FrozenModel):
    """The seal of a record: its SHA-256, and one SHA-256 per paragraph entry to locate a change."""

    record_sha256: str
    paragraphs_sha256: tuple[str, ...]


class Signature(FrozenModel):
    """A detached DSSE signature over the record's canonical JSON (see `courrier.sign_draft`)."""

    payload_type: str
    keyid: str
    algorithm: Literal["ed25519"] = "ed25519"
    sig: str


def seal(record: ProvenanceRecord) -> Integrity:
    """The integrity block of a record (see the hash contract in this module's docstring).

    Each paragraph entry is serialized once: its canonical text is hashed, then written as is into
    the record's, which is what serializing the whole record gives.
    """
    data = record.model_dump(mode="json")
    paragraphs = [canonical_text(entry) for entry in data["paragraphs"]]
    data["paragraphs"] = [Canonical(text) for text in paragraphs]
    return Integrity(
        record_sha256=sha256_hex(encode(canonical_text(data))),
        paragraphs_sha256=tuple(sha256_hex(encode(text)) for text in paragraphs),
    )
