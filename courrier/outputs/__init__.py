"""The outputs layer: a verified draft in, documents out (text, Markdown, JSON, HTML, ODT, DOCX), and
the record in other vocabularies (`courrier.outputs.prov`, `courrier.outputs.in_toto`)."""

from .._exports import publish
from ._export import (
    BANNER,
    BINARY_FORMATS,
    FORMATS,
    MODEL_NOTE,
    OVERRIDE_NOTE,
    SUFFIXES,
    UNPROVEN_BANNER,
    Format,
    document,
    format_for,
)
from .in_toto import PREDICATE_TYPE, to_in_toto_statement
from .prov import to_prov_json

__all__ = [
    "BANNER",
    "BINARY_FORMATS",
    "FORMATS",
    "MODEL_NOTE",
    "OVERRIDE_NOTE",
    "PREDICATE_TYPE",
    "SUFFIXES",
    "UNPROVEN_BANNER",
    "Format",
    "document",
    "format_for",
    "to_in_toto_statement",
    "to_prov_json",
]

publish(__name__, globals(), __all__)
