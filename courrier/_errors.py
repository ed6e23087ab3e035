"""Exceptions raised by courrier.

The hierarchy::

    CourrierError
    ├── UserError                    a mistake in what the caller passed
    │   ├── LibraryNotFound          (also FileNotFoundError) no template folder at that path
    │   ├── TemplateNotFound         (also LookupError) no template with that id
    │   ├── InvalidInput             (also ValueError) input that fails validation, field by field
    │   │   ├── InvalidRequest       a letter request, or its facts
    │   │   └── InvalidDraft         a draft file that is not a courrier draft
    │   ├── UnknownSection           (also LookupError) an edit names a section the letter lacks
    │   └── MissingMention           a draft lacking a required mention cannot be approved
    ├── TemplateError                a template that cannot produce a letter
    │   ├── TemplateDefect           a manifest or source that is malformed or inconsistent
    │   └── RenderLimitExceeded      rendering went past a size bound
    ├── ModelError                   the language model cannot be loaded or run
    │   ├── ModelLoadError           a missing, non-GGUF or damaged model file, or no backend
    │   └── ContextOverflow          a prompt longer than the model's context window
    ├── VerificationError            a draft whose text, record or signature do not match
    └── JournalError                 the journal refuses an event, or is damaged

Every exception carries its context as attributes, so that callers can report it precisely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

__all__ = [
    "ContextOverflow",
    "CourrierError",
    "FieldProblem",
    "IntegrityProblem",
    "InvalidDraft",
    "InvalidInput",
    "InvalidRequest",
    "JournalError",
    "LibraryNotFound",
    "MissingMention",
    "ModelError",
    "ModelLoadError",
    "RenderLimitExceeded",
    "TemplateDefect",
    "TemplateError",
    "TemplateNotFound",
    "UnknownSection",
    "UserError",
    "VerificationError",
]


class CourrierError(Exception):
    """Root of every error that courrier raises on purpose."""


class UserError(CourrierError):
    """The caller passed something wrong: fix the call, not the library."""


class LibraryNotFound(UserError, FileNotFoundError):
    """No template library folder at this path."""

    def __init__(self, path: PathLike[str] | str) -> None:
        self.path = str(path)
        super().__init__(f"dossier de modèles introuvable : {self.path}")


class TemplateNotFound(UserError, LookupError):
    """No template with this id in the library."""

    def __init__(self, template_id: str, available: Sequence[str]) -> None:
        self.template_id = template_id
        self.available = tuple(available)
        super().__init__(
            f"modèle inconnu : {template_id!r} (disponibles : {', '.join(self.available) or 'aucun'})"
        )


@dataclass(frozen=True)
class FieldProblem:
    """One validation problem: where (dotted path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"champ « {self.path} » : {self.message}"


class InvalidInput(UserError, ValueError):
    """Input failed validation. `problems` names every field at fault, `source` the file if any."""

    def __init__(self, problems: Sequence[FieldProblem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f"{source} : " if source else ""
        super().__init__(where + " ; ".join(str(p) for p in self.problems))

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted paths of the fields at fault."""
        return tuple(p.path for p in self.problems)


class InvalidRequest(InvalidInput):
    """A letter request, or the facts it gives for its template, failed validation."""


class InvalidDraft(InvalidInput):
    """A serialized draft could not be read back."""


class UnknownSection(UserError, LookupError):
    """An edit names a section that the letter does not have."""

    def __init__(self, section: str, available: Sequence[str]) -> None:
        self.section = section
        self.available = tuple(available)
        super().__init__(f"section inconnue : {section!r} (sections : {', '.join(self.available)})")


class MissingMention(UserError):
    """The letter lacks required mentions, so it cannot be approved. `labels` names them."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        super().__init__("mention obligatoire absente : " + " ; ".join(self.labels))


class TemplateError(CourrierError):
    """A template cannot produce a letter."""

    def __init__(self, template_id: str, message: str) -> None:
        self.template_id = template_id
        super().__init__(f"modèle {template_id!r} : {message}")


class TemplateDefect(TemplateError):
    """A template's manifest or source is malformed or inconsistent."""

    def __init__(self, template_id: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(template_id, " ; ".join(self.problems))


class RenderLimitExceeded(TemplateError):
    """Rendering produced, or tried to produce, more text than the bound allows."""

    def __init__(self, template_id: str, limit: int) -> None:
        self.limit = limit
        super().__init__(template_id, f"le rendu dépasse la limite de {limit} caractères")


class ModelError(CourrierError):
    """The language model cannot be loaded or run."""


class ModelLoadError(ModelError):
    """A model file is missing, is not GGUF, is damaged, or its backend is not installed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"modèle {path} : {reason}")


class ContextOverflow(ModelError):
    """A prompt does not fit in the model's context window."""

    def __init__(self, prompt_tokens: int, n_ctx: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx
        super().__init__(
            f"le prompt fait {prompt_tokens} jetons, plus que la fenêtre de contexte ({n_ctx}) : "
            "augmentez n_ctx ou raccourcissez la demande"
        )


@dataclass(frozen=True)
class IntegrityProblem:
    """One mismatch found by verification: which paragraph (index and section), if any, and what."""

    message: str
    index: int | None = None
    section: str | None = None

    def __str__(self) -> str:
        where = f"paragraphe {self.index + 1} ({self.section}) : " if self.index is not None else ""
        return where + self.message


class VerificationError(CourrierError):
    """A draft's text, record, request or signature do not match. `problems` says where."""

    def __init__(self, problems: Sequence[IntegrityProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("vérification échouée : " + " ; ".join(str(p) for p in self.problems))

    @property
    def sections(self) -> tuple[str, ...]:
        """The sections of the paragraphs that differ."""
        return tuple(p.section for p in self.problems if p.section is not None)


class JournalError(CourrierError):
    """The journal refuses an event (a broken hash chain), or cannot be read or written."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"journal {path} : {reason}")
