"""courrier: French administrative letters from vetted templates, with a traceable local model.

The public API is what `__all__` lists; every other module is private.
"""

from ._draft import Draft, Paragraph
from ._drafting import Disclosure, Drafter
from ._errors import (
    ContextOverflow,
    CourrierError,
    FieldProblem,
    IntegrityProblem,
    InvalidDraft,
    InvalidInput,
    InvalidRequest,
    JournalError,
    LibraryNotFound,
    MissingMention,
    ModelError,
    ModelLoadError,
    RenderLimitExceeded,
    TemplateDefect,
    TemplateError,
    TemplateNotFound,
    UnknownSection,
    UserError,
    VerificationError,
)
from ._export import FORMATS
from ._export import document as export_document
from ._french import civilite, date_longue, montant, nombre
from ._guards import GuardVerdict
from ._journal import Journal, JournalEvent, default_journal_path
from ._lint import LintProblem, lint
from ._llm import LocalChatModel, ModelCache, ModelFingerprint, default_model_path
from ._models import (
    Contact,
    LetterRequest,
    Recipient,
    References,
    Sender,
    Signatory,
    TemplateRef,
)
from ._prompts import Style
from ._prov import to_prov_json
from ._record import (
    ApprovalRecord,
    AttemptRecord,
    EditRecord,
    Integrity,
    ModelRecord,
    ParagraphRecord,
    PromptRecord,
    ProvenanceRecord,
    Signature,
    Usage,
    canonical_json,
)
from ._signing import generate_key_pair, load_private_key, load_public_key, sign_draft, to_in_toto_statement
from ._templates import Template, TemplateLibrary
from ._verify import Verification, verify
from ._version import __version__

__all__ = [
    "FORMATS",
    "ApprovalRecord",
    "AttemptRecord",
    "Contact",
    "ContextOverflow",
    "CourrierError",
    "Disclosure",
    "Draft",
    "Drafter",
    "EditRecord",
    "FieldProblem",
    "GuardVerdict",
    "Integrity",
    "IntegrityProblem",
    "InvalidDraft",
    "InvalidInput",
    "InvalidRequest",
    "Journal",
    "JournalError",
    "JournalEvent",
    "LetterRequest",
    "LibraryNotFound",
    "LintProblem",
    "LocalChatModel",
    "MissingMention",
    "ModelCache",
    "ModelError",
    "ModelFingerprint",
    "ModelLoadError",
    "ModelRecord",
    "Paragraph",
    "ParagraphRecord",
    "PromptRecord",
    "ProvenanceRecord",
    "Recipient",
    "References",
    "RenderLimitExceeded",
    "Sender",
    "Signatory",
    "Signature",
    "Style",
    "Template",
    "TemplateDefect",
    "TemplateError",
    "TemplateLibrary",
    "TemplateNotFound",
    "TemplateRef",
    "UnknownSection",
    "Usage",
    "UserError",
    "Verification",
    "VerificationError",
    "__version__",
    "canonical_json",
    "civilite",
    "date_longue",
    "default_journal_path",
    "default_model_path",
    "export_document",
    "generate_key_pair",
    "lint",
    "load_private_key",
    "load_public_key",
    "montant",
    "nombre",
    "sign_draft",
    "to_in_toto_statement",
    "to_prov_json",
    "verify",
]
