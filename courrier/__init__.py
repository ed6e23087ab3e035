"""courrier: French administrative letters from vetted templates, with a traceable local model.

The top level holds the nouns a user builds and every exception; the rest lives in public
submodules: `courrier.record` (the provenance record and its hash contract), `courrier.errors`,
`courrier.port` (what the drafter asks of a chat model), `courrier.model`, `courrier.rendering`,
`courrier.guards`, `courrier.drafting`, `courrier.outputs`, `courrier.signing`, `courrier.journal`,
`courrier.french`, `courrier.lint` and `courrier.testing`. Every other module is private.

`import courrier` loads neither LangChain nor llama.cpp: `LocalChatModel` is imported on first use.
"""

import importlib as _importlib
import typing as _typing
import warnings as _warnings

from ._draft import Draft, Paragraph
from ._exports import publish as _publish
from ._request import Contact, LetterRequest, Recipient, References, Sender, Signatory
from ._verify import Verification, verify
from ._version import __version__
from .drafting import Drafter, Style
from .errors import (
    ContextOverflow,
    CourrierError,
    FieldProblem,
    IntegrityProblem,
    InvalidDraft,
    InvalidInput,
    InvalidJournal,
    InvalidRequest,
    JournalError,
    LibraryNotFound,
    LockedSection,
    MissingDependency,
    MissingMention,
    ModelError,
    ModelLoadError,
    OutputError,
    RenderLimitExceeded,
    TemplateDefect,
    TemplateError,
    TemplateNotFound,
    UnknownSection,
    UnreadableFile,
    UserError,
    VerificationError,
)
from .journal import Journal
from .outputs import FORMATS
from .outputs import document as export_document
from .record import Disclosure
from .rendering import Template, TemplateLibrary

if _typing.TYPE_CHECKING:
    from .model import LocalChatModel

__all__ = [  # noqa: RUF022 - grouped by use, sorted within each group
    # drafting a letter
    "Contact",
    "Disclosure",
    "Drafter",
    "LetterRequest",
    "LocalChatModel",
    "Recipient",
    "References",
    "Sender",
    "Signatory",
    "Style",
    "Template",
    "TemplateLibrary",
    # the draft, and what is done with it
    "FORMATS",
    "Draft",
    "Journal",
    "Paragraph",
    "Verification",
    "export_document",
    "verify",
    # errors (also in courrier.errors, whose docstring draws the tree)
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
    "__version__",
]

_publish(__name__, globals(), [name for name in __all__ if name in globals()])

_MOVED = {
    **dict.fromkeys(
        (
            "ApprovalRecord",
            "AttemptRecord",
            "EditRecord",
            "GuardVerdict",
            "Integrity",
            "ModelFingerprint",
            "ModelRecord",
            "ParagraphRecord",
            "PromptRecord",
            "ProvenanceRecord",
            "Signature",
            "TemplateRef",
            "Usage",
            "canonical_json",
        ),
        "courrier.record",
    ),
    **dict.fromkeys(("civilite", "date_longue", "montant", "nombre"), "courrier.french"),
    **dict.fromkeys(("JournalEvent", "default_journal_path"), "courrier.journal"),
    "LintProblem": "courrier.lint",
    **dict.fromkeys(("ModelCache", "default_model_path"), "courrier.model"),
    **dict.fromkeys(("to_in_toto_statement", "to_prov_json"), "courrier.outputs"),
    **dict.fromkeys(
        ("generate_key_pair", "load_private_key", "load_public_key", "sign_draft"), "courrier.signing"
    ),
}
"""Names of the top level until 0.1.0, now in public submodules: still found here, with a warning,
until the next release."""


def __getattr__(name: str) -> _typing.Any:
    if name == "LocalChatModel":  # LangChain and llama.cpp load with it, not with courrier
        return _importlib.import_module("courrier.model").LocalChatModel
    if name in _MOVED:
        _warnings.warn(
            f"courrier.{name} est déplacé : importez-le depuis {_MOVED[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'courrier' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "LocalChatModel"})
