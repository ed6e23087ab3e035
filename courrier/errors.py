"""Exceptions raised by courrier.

The hierarchy::

    CourrierError
    ├── UserError                    a mistake in what the caller passed: fix the call (CLI exit 2)
    │   ├── LibraryNotFound          (also FileNotFoundError) no template folder at that path
    │   ├── TemplateNotFound         (also LookupError) no template with that id
    │   ├── InvalidInput             (also ValueError) input that fails validation, field by field
    │   │   ├── InvalidRequest       a letter request, or its facts
    │   │   └── InvalidDraft         a draft file that is not a courrier draft
    │   ├── UnknownSection           (also LookupError) an edit names a section the letter lacks
    │   ├── LockedSection            an edit of vetted legal text or layout without a recorded override
    │   ├── MissingMention           a draft lacking a required mention cannot be approved
    │   ├── UnreadableFile           (also OSError) a file the caller named cannot be read
    │   ├── MissingDependency        (also ImportError) an optional part is not installed
    │   └── InvalidJournal           (also JournalError) a file that is not a courrier journal
    ├── OutputError                  (also OSError) a file cannot be written: a full disk, no rights
    ├── TemplateError                a template that cannot produce a letter
    │   ├── TemplateDefect           a manifest or source that is malformed or inconsistent
    │   └── RenderLimitExceeded      rendering went past a size bound
    ├── ModelError                   the language model cannot be loaded or run
    │   ├── ModelLoadError           a missing, non-GGUF or damaged model file, or no backend
    │   └── ContextOverflow          a prompt longer than the model's context window
    ├── VerificationError            a draft whose text, record or signature do not match
    └── JournalError                 the journal refuses an event, is damaged, or is not a journal

Every exception carries its context as attributes, so that callers can report it precisely. Its
arguments are that context, and its message is built from them: an exception pickles, and comes back
equal to itself (a batch in worker processes or a task queue reports it whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

__all__ = [
    "ContextOverflow",
    "CourrierError",
    "FieldProblem",
    "IntegrityProblem",
    "InvalidDraft",
    "InvalidInput",
    "InvalidJournal",
    "InvalidRequest",
    "JournalError",
    "LibraryNotFound",
    "LockedSection",
    "MissingDependency",
    "MissingMention",
    "ModelError",
    "ModelLoadError",
    "OutputError",
    "RenderLimitExceeded",
    "TemplateDefect",
    "TemplateError",
    "TemplateNotFound",
    "UnknownSection",
    "UnreadableFile",
    "UserError",
    "VerificationError",
]


class CourrierError(Exception):
    """Root of every error that courrier raises on purpose. `CourrierError(message)` for the rest."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The arguments are the constructor's: unpickling calls it again (for OSError subclasses too,
        # whose own reduction would pass errno and strerror instead).
        return type(self), self.args

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CourrierError) and type(other) is type(self) and other.args == self.args

    def __hash__(self) -> int:
        return hash((type(self), self.args))

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UserError(CourrierError):
    """The caller passed something wrong: fix the call, not the library."""


class LibraryNotFound(UserError, FileNotFoundError):
    """No template library folder at this path."""

    def __init__(self, path: PathLike[str] | str) -> None:
        self.path = str(path)
        super().__init__(self.path)

    def __str__(self) -> str:
        return f"dossier de modèles introuvable : {self.path}"


class TemplateNotFound(UserError, LookupError):
    """No template with this id in the library."""

    def __init__(self, template_id: str, available: Sequence[str] = ()) -> None:
        self.template_id = template_id
        self.available = tuple(available)
        super().__init__(template_id, self.available)

    def __str__(self) -> str:
        return f"modèle inconnu : {self.template_id!r} (disponibles : {', '.join(self.available) or 'aucun'})"


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
        super().__init__(self.problems, source)

    SHOWN = 10
    """How many problems the message names; `problems` holds them all."""

    def __str__(self) -> str:
        where = f"{self.source} : " if self.source else ""
        more = len(self.problems) - self.SHOWN
        rest = [f"et {more} autre(s)"] if more > 0 else []
        return where + " ; ".join([*(str(p) for p in self.problems[: self.SHOWN]), *rest])

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
        super().__init__(section, self.available)

    def __str__(self) -> str:
        return f"section inconnue : {self.section!r} (sections : {', '.join(self.available)})"


class LockedSection(UserError):
    """An edit of a section whose text a person may not change: vetted legal text (`locked`) and the
    layout may change only with an override and its reason; the signature, never (draft again)."""

    def __init__(self, section: str, reason: str) -> None:
        self.section = section
        self.reason = reason
        super().__init__(section, reason)

    def __str__(self) -> str:
        return f"section {self.section!r} verrouillée : {self.reason}"


class MissingMention(UserError):
    """The letter lacks required mentions, so it cannot be approved. `labels` names them."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        super().__init__(self.labels)

    def __str__(self) -> str:
        return "mention obligatoire absente : " + " ; ".join(self.labels)


class _FileError(CourrierError, OSError):
    """A file that cannot be read or written: `path`, and `reason` in French."""

    _verb = ""

    def __init__(self, path: PathLike[str] | str, reason: str) -> None:
        super().__init__(str(path), reason)
        self.path, self.reason = str(path), reason
        self.errno, self.filename, self.strerror = None, self.path, reason  # as OSError names them

    def __str__(self) -> str:
        return f"{self._verb} de {self.path} : {self.reason}"


class UnreadableFile(UserError, _FileError):
    """A file the caller named cannot be read: missing, a folder, no permission."""

    _verb = "lecture impossible"

    @classmethod
    def of(cls, path: PathLike[str] | str, error: OSError) -> UnreadableFile:
        """The error for `path`, from the OS error that reading it raised."""
        if isinstance(error, FileNotFoundError):
            return cls(path, "fichier introuvable")
        return cls(path, error.strerror or str(error))


class OutputError(_FileError):
    """A file cannot be written: a full disk, a read-only folder. Not the caller's mistake (CLI exit 1)."""

    _verb = "écriture impossible"


class MissingDependency(UserError, ImportError):
    """An optional part of courrier is not installed. `extra` names the pip extra that brings it."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature, self.extra = feature, extra
        super().__init__(feature, extra)

    def __str__(self) -> str:
        return f"{self.feature} indisponible : installez « pip install 'courrier[{self.extra}]' »"


class TemplateError(CourrierError):
    """A template cannot produce a letter. `where` is the template id, or the library file at fault."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(where, message)

    @property
    def template_id(self) -> str:
        """The template at fault (or the library file, for the shared layout and prompts)."""
        return self.where

    def __str__(self) -> str:
        return f"modèle {self.where!r} : {self.args[1]}"


class TemplateDefect(TemplateError):
    """A template's manifest or source is malformed or inconsistent."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.where = where
        self.problems = tuple(problems)
        CourrierError.__init__(self, where, self.problems)

    def __str__(self) -> str:
        return f"modèle {self.where!r} : " + " ; ".join(self.problems)


class RenderLimitExceeded(TemplateError):
    """Rendering produced, or tried to produce, more text than the bound allows."""

    def __init__(self, where: str, limit: int) -> None:
        self.where = where
        self.limit = limit
        CourrierError.__init__(self, where, limit)

    def __str__(self) -> str:
        return f"modèle {self.where!r} : le rendu dépasse la limite de {self.limit} caractères"


class ModelError(CourrierError):
    """The language model cannot be loaded or run."""


class ModelLoadError(ModelError):
    """A model file is missing, is not GGUF, is damaged, or its backend is not installed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return f"modèle {self.path} : {self.reason}"


class ContextOverflow(ModelError):
    """A prompt does not fit in the model's context window."""

    def __init__(self, prompt_tokens: int, n_ctx: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx
        super().__init__(prompt_tokens, n_ctx)

    def __str__(self) -> str:
        return (
            f"le prompt fait {self.prompt_tokens} jetons, plus que la fenêtre de contexte ({self.n_ctx}) : "
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
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "vérification échouée : " + " ; ".join(str(p) for p in self.problems)

    @property
    def sections(self) -> tuple[str, ...]:
        """The sections of the paragraphs that differ."""
        return tuple(p.section for p in self.problems if p.section is not None)


class JournalError(CourrierError):
    """The journal refuses an event (a broken hash chain), or cannot be read or written."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return f"journal {self.path} : {self.reason}"


class InvalidJournal(UserError, JournalError):
    """The file given as journal is not a courrier journal: a folder, another program's database,
    garbage, or a journal that does not exist where a command only reads one."""
