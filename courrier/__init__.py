"""courrier: French administrative letters from vetted templates, with a traceable local model.

The public API is what `__all__` lists; every other module is private.
"""

from ._drafting import Drafter
from ._errors import (
    ContextOverflow,
    CourrierError,
    FieldProblem,
    InvalidDraft,
    InvalidInput,
    InvalidRequest,
    LibraryNotFound,
    ModelError,
    ModelLoadError,
    RenderLimitExceeded,
    TemplateDefect,
    TemplateError,
    TemplateNotFound,
    UserError,
)
from ._french import civilite, date_longue, montant, nombre
from ._lint import LintProblem, lint
from ._llm import LocalChatModel, ModelCache, ModelFingerprint, default_model_path
from ._models import (
    Contact,
    Draft,
    LetterRequest,
    Paragraph,
    Recipient,
    References,
    Sender,
    Signatory,
    TemplateRef,
)
from ._templates import Template, TemplateLibrary
from ._version import __version__

__all__ = [
    "Contact",
    "ContextOverflow",
    "CourrierError",
    "Draft",
    "Drafter",
    "FieldProblem",
    "InvalidDraft",
    "InvalidInput",
    "InvalidRequest",
    "LetterRequest",
    "LibraryNotFound",
    "LintProblem",
    "LocalChatModel",
    "ModelCache",
    "ModelError",
    "ModelFingerprint",
    "ModelLoadError",
    "Paragraph",
    "Recipient",
    "References",
    "RenderLimitExceeded",
    "Sender",
    "Signatory",
    "Template",
    "TemplateDefect",
    "TemplateError",
    "TemplateLibrary",
    "TemplateNotFound",
    "TemplateRef",
    "UserError",
    "__version__",
    "civilite",
    "date_longue",
    "default_model_path",
    "lint",
    "montant",
    "nombre",
]
