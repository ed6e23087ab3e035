"""The rendering layer: a letter request in, the vetted text of every section out.

Templates are folders of a TOML manifest and Jinja2 sources, read from the library's layers only and
rendered in an immutable, strict sandbox bounded in size, steps, time and recursion. This layer
imports the request, the record contract and the French filters; nothing of the guards, the model or
the drafter.
"""

from .._exports import publish
from ._layout import ai_notice
from ._library import (
    LINK_REFUSED,
    MAX_LETTER_CHARS,
    RenderedSection,
    Template,
    TemplateLibrary,
    library_links,
    library_roots,
    open_library,
    shipped_templates_dir,
    template_dirs,
    template_folders,
)
from ._manifest import (
    DISCLOSURE_SECTION,
    LAYOUT_AFTER_BODY,
    LAYOUT_BEFORE_BODY,
    LAYOUT_BLOCKS,
    LAYOUT_FILE,
    FieldSpec,
    Manifest,
    SectionSpec,
)

__all__ = [
    "DISCLOSURE_SECTION",
    "LAYOUT_AFTER_BODY",
    "LAYOUT_BEFORE_BODY",
    "LAYOUT_BLOCKS",
    "LAYOUT_FILE",
    "LINK_REFUSED",
    "MAX_LETTER_CHARS",
    "FieldSpec",
    "Manifest",
    "RenderedSection",
    "SectionSpec",
    "Template",
    "TemplateLibrary",
    "ai_notice",
    "library_links",
    "library_roots",
    "open_library",
    "shipped_templates_dir",
    "template_dirs",
    "template_folders",
]

publish(__name__, globals(), __all__)
