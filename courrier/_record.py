"""The provenance record of a draft: what produced each paragraph, and the hashes that seal it.

Canonical JSON and hashing are a contract: a record's hash is the SHA-256 of its RFC 8785 (JSON
Canonicalization Scheme) serialization, taken from pydantic's JSON mode. Changing either changes
every hash recorded in past drafts and journals.

The serializer is written here for speed (strings go through the standard library's C escaper, which
escapes exactly what RFC 8785 escapes); numbers that are not integers are written by the `rfc8785`
package, and the tests check the whole serializer against that package.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from json.encoder import encode_basestring
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
    JSON readers would round, a float that is not finite, a lone surrogate, a key that is not text.
    """
    return _encode(_canonical_text(value.model_dump(mode="json") if isinstance(value, BaseModel) else value))


class _Canonical:
    """A part of a value already in canonical form, written as is (see `seal`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _canonical_text(value: Any) -> str:
    pieces: list[str] = []
    try:
        _write(value, pieces)
    except (rfc8785.CanonicalizationError, TypeError) as error:
        raise _out_of_domain(error) from error
    return "".join(pieces)


def _write(value: Any, pieces: list[str]) -> None:
    if isinstance(value, str):
        pieces.append(encode_basestring(value))
    elif isinstance(value, dict):
        separator = "{"
        for key in _sorted_keys(value):
            pieces.extend((separator, encode_basestring(key), ":"))
            _write(value[key], pieces)
            separator = ","
        pieces.append("}" if value else "{}")
    elif isinstance(value, list | tuple):
        separator = "["
        for item in value:
            pieces.append(separator)
            _write(item, pieces)
            separator = ","
        pieces.append("]" if value else "[]")
    elif value is None or isinstance(value, bool):
        pieces.append(_LITERALS[value])
    elif isinstance(value, int):
        if not -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
            raise rfc8785.IntegerDomainError(value)
        pieces.append(str(int(value)))
    elif isinstance(value, float):
        pieces.append(rfc8785.dumps(value).decode("ascii"))
    elif isinstance(value, _Canonical):
        pieces.append(value.text)
    else:
        raise TypeError(f"type {type(value).__name__} absent de JSON")


def _sorted_keys(mapping: dict[Any, Any]) -> list[str]:
    """The keys in RFC 8785 order, by their UTF-16 code units: Python's own order for ASCII keys."""
    try:
        if all(key.isascii() for key in mapping):
            return sorted(mapping)
        return sorted(mapping, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
    except AttributeError as error:
        raise TypeError("clé qui n'est pas du texte") from error


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _out_of_domain(error) from error


def _out_of_domain(error: Exception) -> InvalidInput:
    return InvalidInput([FieldProblem("(valeur)", f"hors du domaine du JSON canonique RFC 8785 ({error})")])


_SAFE_INTEGER = 2**53 - 1
_LITERALS = {None: "null", True: "true", False: "false"}


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
    """The integrity block of a record (see the hash contract in this module's docstring).

    Each paragraph entry is serialized once: its canonical text is hashed, then written as is into
    the record's, which is what serializing the whole record gives.
    """
    data = record.model_dump(mode="json")
    paragraphs = [_canonical_text(entry) for entry in data["paragraphs"]]
    data["paragraphs"] = [_Canonical(text) for text in paragraphs]
    return Integrity(
        record_sha256=sha256_hex(_encode(_canonical_text(data))),
        paragraphs_sha256=tuple(sha256_hex(_encode(text)) for text in paragraphs),
    )
