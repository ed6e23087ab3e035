"""The provenance record of a draft: what produced each paragraph, and the hashes that seal it.

Canonical JSON and hashing are a contract: a record's hash is the SHA-256 of its RFC 8785 (JSON
Canonicalization Scheme) serialization, taken from pydantic's JSON mode. Changing either changes
every hash recorded in past drafts and journals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

import rfc8785
from pydantic import BaseModel, Field, JsonValue

from ._errors import FieldProblem, InvalidInput
from ._guards import GuardVerdict
from ._llm import ModelFingerprint
from ._manifest import MentionSpec
from ._models import Origin, SectionMode, TemplateRef
from ._validation import FrozenModel

__all__ = [
    "ApprovalRecord",
    "AttemptRecord",
    "Change",
    "Disclosure",
    "EditRecord",
    "Integrity",
    "ModelRecord",
    "ParagraphRecord",
    "PromptRecord",
    "ProvenanceRecord",
    "Signature",
    "Usage",
    "canonical_json",
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


def canonical_json(value: BaseModel | Any) -> bytes:
    """RFC 8785 canonical JSON of a pydantic model (in JSON mode) or of plain JSON data.

    `InvalidInput` for a value that RFC 8785 cannot represent: an integer beyond ±(2**53 - 1), which
    JSON readers would round, or a float that is not finite.
    """
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    try:
        return rfc8785.dumps(data)
    except rfc8785.CanonicalizationError as error:
        raise InvalidInput(
            [FieldProblem("(valeur)", f"hors du domaine du JSON canonique RFC 8785 ({error})")]
        ) from error


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of(value: BaseModel | Any) -> str:
    """SHA-256 of the canonical JSON of `value`: the hash contract of every record part."""
    return sha256_hex(canonical_json(value))


def text_sha256(text: str) -> str:
    """SHA-256 of a paragraph's text, encoded in UTF-8."""
    return sha256_hex(text.encode("utf-8"))


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
    accepted: bool


class ParagraphRecord(FrozenModel):
    """The provenance of one paragraph. `vetted_sha256` is the hash of the template's rendering."""

    section: str
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
    section: str
    author: str
    reason: str | None
    at: dt.datetime
    before_sha256: str
    after_sha256: str


class ApprovalRecord(FrozenModel):
    """Who approved a version of the letter, in which capacity, and when."""

    version: int
    by: str
    qualite: str
    at: dt.datetime


class ProvenanceRecord(FrozenModel):
    """Everything that produced one version of a draft. Facts appear only as hashes."""

    schema_version: Literal[1] = 1
    draft_id: str
    version: int = Field(ge=1)
    change: Change
    previous_sha256: str | None
    created_at: dt.datetime
    software: dict[str, str]
    template: TemplateRef
    request_sha256: str
    facts_sha256: str
    organisation: str
    signatory: str
    model: ModelRecord | None
    style: str | None
    max_retries: int = Field(ge=0, le=100)
    disclosure: Disclosure
    required_mentions: tuple[MentionSpec, ...]
    missing_mentions: tuple[str, ...]
    paragraphs: tuple[ParagraphRecord, ...]
    edits: tuple[EditRecord, ...] = ()
    approval: ApprovalRecord | None = None


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
    """The integrity block of a record (see the hash contract in this module's docstring)."""
    return Integrity(
        record_sha256=sha256_of(record),
        paragraphs_sha256=tuple(sha256_of(paragraph) for paragraph in record.paragraphs),
    )
