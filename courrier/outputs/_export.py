"""Writers that turn a draft into a document: plain text, Markdown, JSON, HTML, ODT and DOCX.

HTML needs nothing beyond the standard library. ODT and DOCX need the `office` extra (odfdo,
python-docx), imported only when asked for. Every writer is deterministic: the office files carry the
version's creation time, never the time of the export, so one draft version always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from .._draft import Draft, Paragraph
from .._version import __version__
from ..errors import MissingDependency
from ..record import EditRecord, overrides

if TYPE_CHECKING:
    from docx.styles.styles import Styles
    from odfdo import Style

__all__ = [
    "BANNER",
    "BINARY_FORMATS",
    "FORMATS",
    "MODEL_NOTE",
    "OVERRIDE_NOTE",
    "SUFFIXES",
    "UNPROVEN_BANNER",
    "Format",
    "document",
    "format_for",
]

Format = Literal["text", "md", "json", "html", "odt", "docx"]

FORMATS: tuple[Format, ...] = get_args(Format)

BINARY_FORMATS: frozenset[Format] = frozenset({"odt", "docx"})
"""The formats whose documents are not text (they go to a file, not to a terminal)."""

SUFFIXES: dict[Format, str] = {
    "text": ".txt",
    "md": ".md",
    "json": ".json",
    "html": ".html",
    "odt": ".odt",
    "docx": ".docx",
}
"""The file name suffix of each format."""

_FORMAT_OF_SUFFIX: dict[str, Format] = {suffix: name for name, suffix in SUFFIXES.items()} | {".htm": "html"}

BANNER = "BROUILLON — non approuvé"
"""The line at the top of a document whose draft version is not approved."""

MODEL_NOTE = "Passage proposé par le modèle de langue : à relire"
"""The reviewer's note on every paragraph that the language model wrote."""

OVERRIDE_NOTE = "Texte juridique validé modifié par dérogation"
"""The start of the note on every paragraph whose vetted text a person overrode (`Draft.edit`)."""

UNPROVEN_BANNER = "BROUILLON — approbation non prouvée (ni journal ni signature)"
"""The banner of an approved version exported with `approval_proven=False`."""

_OBJECT_SECTION = "objet"

_DOUBLE_HYPHEN = re.compile(r"-(?=-)")

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def format_for(path: Path | None) -> Format | None:
    """The format that a file name's suffix asks for (`SUFFIXES`, and `.htm`); plain text for no file
    or a name without suffix; None for a suffix of no format (`.pdf`: the caller must say which)."""
    if path is None or not path.suffix:
        return "text"
    return _FORMAT_OF_SUFFIX.get(path.suffix.lower())


def document(draft: Draft, format: Format, *, approval_proven: bool = True) -> bytes:
    """The whole file of the draft in the given format (text formats in UTF-8).

    `VerificationError` for a draft whose text no longer matches its record: a document never carries
    a record hash that its text would belie. Every overridden paragraph of vetted text is marked, in
    every format. Anyone can write an approval into a record and recompute its hashes: pass
    `approval_proven=False` when neither the journal nor a signature proves it (`verify`), and an
    approved version keeps a draft banner.
    """
    draft.require_intact()
    return _WRITERS[format](_Export(draft, draft.approved and approval_proven))


@dataclass(frozen=True)
class _Export:
    """A draft as a writer sees it: whether to print it as approved, and the note of each paragraph."""

    draft: Draft
    approved: bool

    @property
    def banner(self) -> str | None:
        """The line atop a version not printed as approved, naming the mentions it lacks, if any."""
        if self.approved:
            return None
        missing = self.draft.provenance.missing_mentions
        lacking = f" — mention obligatoire absente : {' ; '.join(missing)}" if missing else ""
        return (UNPROVEN_BANNER if self.draft.approved else BANNER) + lacking

    def note(self, paragraph: Paragraph) -> str | None:
        """The reviewer's note on a paragraph: model text to review, or vetted text overridden."""
        if paragraph.origin == "model":
            return MODEL_NOTE
        override = self.overrides.get(paragraph.section)
        if override is None or paragraph.origin != "human":
            return None
        return f"{OVERRIDE_NOTE} par {override.author} (motif : {override.reason})"

    @property
    def overrides(self) -> dict[str, EditRecord]:
        """The last override of each section."""
        return {edit.section: edit for edit in overrides(self.draft.provenance)}


def _markdown_line(line: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def _markdown(view: _Export) -> str:
    """Markdown: one paragraph per section, line breaks kept as hard breaks, text escaped; the
    metadata in a leading HTML comment, and the reviewer's note after each paragraph that has one."""
    metadata = _metadata(view)
    header = "<!--\n" + "".join(f"{name}: {_comment(value)}\n" for name, value in metadata.items()) + "-->"
    paragraphs = [
        "\\\n".join(_markdown_line(line) for line in p.text.splitlines())
        + ("" if (note := view.note(p)) is None else f"\n<!-- {_comment(note)} -->")
        for p in view.draft.paragraphs
    ]
    return "\n\n".join([header, *paragraphs]) + "\n"


def _comment(text: str) -> str:
    """Text that cannot close the HTML comment it is written in (a reason or label is anyone's text)."""
    return _DOUBLE_HYPHEN.sub("- ", text)


def _title(draft: Draft) -> str:
    """The document's title: the object line, on one line (the template id for a letter without one)."""
    objet = next((p.text for p in draft.paragraphs if p.section == _OBJECT_SECTION), draft.template.id)
    return " ".join(objet.split())


def _generator() -> str:
    return f"courrier {__version__}"


def _identity(draft: Draft) -> dict[str, str]:
    """What identifies the draft version, under the same names in every format."""
    return {
        "courrier-draft-id": draft.id,
        "courrier-version": str(draft.version),
        "courrier-record-sha256": draft.sha256,
    }


def _metadata(view: _Export) -> dict[str, str]:
    """The draft version's identity and its template's, and the sections overridden if any."""
    template = view.draft.template
    overridden = {"courrier-overrides": ", ".join(view.overrides)} if view.overrides else {}
    return {
        **_identity(view.draft),
        "courrier-template": f"{template.id} {template.version}",
        "courrier-template-sha256": template.sha256,
        **overridden,
    }


# HTML: the note and the origin marks show on screen only; the banner shows on screen and on paper.

_HTML_ORIGIN_CLASSES = {"model": "origine-modele", "human": "origine-agent"}

_CSS = """
body{margin:0;background:#e8e8e8;color:#1a1a1a;font:12pt/1.45 Arial,"Liberation Sans",sans-serif}
main{box-sizing:border-box;max-width:21cm;margin:1.5rem auto;padding:2cm;background:#fff}
p,h1{margin:0 0 .8em}
h1{font-size:1em}
[data-section=destinataire],[data-section=lieu_date],[data-section=signature]{margin-left:50%}
[data-section=destinataire]{margin-top:1.5em;margin-bottom:2em}
[data-section=lieu_date]{margin-bottom:1.5em}
.brouillon{border:2px solid #b00020;color:#b00020;font-weight:bold;text-align:center;padding:.3em}
.origine-modele{border-left:.3em solid #1d4f91;background:#eef3fb;padding-left:.6em}
.origine-agent{background:#fff2b3}
.note-relecture{display:block;font-size:.85em;font-style:italic;color:#1d4f91}
@page{size:A4;margin:2cm}
@media print{
body{background:none;font-size:11pt}
main{max-width:none;margin:0;padding:0}
.note-relecture{display:none}
.origine-modele,.origine-agent{border:0;background:none;padding:0}
}
"""


def _html(view: _Export) -> str:
    """A self-contained, printable, accessible HTML page; the object line is the page's one heading."""
    escape = html.escape
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(_title(view.draft))}</title>",
        f'<meta name="generator" content="{escape(_generator())}">',
        *(f'<meta name="{name}" content="{escape(value)}">' for name, value in _metadata(view).items()),
        f"<style>{_CSS}</style>",
    ]
    body = [] if view.banner is None else [f'<p class="brouillon">{escape(view.banner, quote=False)}</p>']
    body.extend(_html_paragraph(paragraph, view.note(paragraph)) for paragraph in view.draft.paragraphs)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="fr">',
            "<head>",
            *head,
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _html_paragraph(paragraph: Paragraph, note: str | None) -> str:
    tag = "h1" if paragraph.section == _OBJECT_SECTION else "p"
    attributes = f' data-section="{html.escape(paragraph.section)}"'
    if paragraph.origin in _HTML_ORIGIN_CLASSES:
        attributes += f' class="{_HTML_ORIGIN_CLASSES[paragraph.origin]}"'
    shown = "" if note is None else f'<span class="note-relecture">{html.escape(note, quote=False)}.</span>'
    text = "<br>\n".join(html.escape(line, quote=False) for line in paragraph.text.splitlines())
    return f"<{tag}{attributes}>{shown}{text}</{tag}>"


# Office documents: the same named styles in ODT and DOCX, so that an agent can restyle them in one place.


@dataclass(frozen=True)
class _Look:
    """A named style of the office documents. `name` is the DOCX name and the ODT display name."""

    name: str
    character: bool = False  # a style of text runs, not of whole paragraphs
    bold: bool = False
    centered: bool = False
    indent_cm: float = 0.0
    space_after_cm: float = 0.3
    color: str | None = None
    background: str | None = None


_TEXT = _Look("Courrier Texte")
_RIGHT = _Look("Courrier Bloc droite", indent_cm=9.0)
_OBJECT = _Look("Courrier Objet", bold=True)
_MODEL = _Look("Courrier Modèle", background="#E8EEF7")
_AGENT = _Look("Courrier Agent", character=True, background="#FFF2B3")
_BANNER = _Look("Courrier Brouillon", bold=True, centered=True, color="#B00020", space_after_cm=0.6)
_LOOKS = (_TEXT, _RIGHT, _OBJECT, _MODEL, _AGENT, _BANNER)

_SECTION_LOOKS = {"destinataire": _RIGHT, "lieu_date": _RIGHT, "signature": _RIGHT, _OBJECT_SECTION: _OBJECT}
"""Where a French letter puts its layout blocks: recipient, place and date, signature on the right."""

_COMMENT_AUTHOR = "courrier"


def _looks(view: _Export) -> tuple[_Look, ...]:
    """The styles of a draft's document: an approved version's print without the review backgrounds."""
    return tuple(replace(look, background=None) for look in _LOOKS) if view.approved else _LOOKS


def _paragraph_look(paragraph: Paragraph) -> _Look:
    """A model paragraph's style marks it (the model writes body sections only); others follow the layout.

    A person's text is marked by the character style `_AGENT`, so that an edited block keeps its place.
    """
    return _MODEL if paragraph.origin == "model" else _SECTION_LOOKS.get(paragraph.section, _TEXT)


def _odf_name(name: str) -> str:
    """The ODT internal name of a style: ASCII letters, spaces as underscores ("Courrier_Modele")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ascii_name.replace(" ", "_")


def _missing(format_name: str) -> MissingDependency:
    return MissingDependency(f"export {format_name}", "office")


def _dated_zip(data: bytes, when: dt.datetime) -> bytes:
    """The same archive with every entry dated `when` instead of the time of writing."""
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(output, "w") as target:
        for entry in source.infolist():
            dated = zipfile.ZipInfo(entry.filename, when.timetuple()[:6])
            dated.compress_type = entry.compress_type
            target.writestr(dated, source.read(entry))
    return output.getvalue()


def _created(draft: Draft) -> dt.datetime:
    """The version's creation time, in UTC without a time zone (how both office formats date things)."""
    return draft.provenance.created_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def _odt(view: _Export) -> bytes:
    draft = view.draft
    try:
        from odfdo import Annotation, Document, Span
        from odfdo import Paragraph as OdfParagraph
    except ImportError as error:
        raise _missing("ODT") from error
    created = _created(draft)
    odt = Document("text")
    for look in _looks(view):
        odt.insert_style(_odf_style(look), automatic=False)
    body = odt.body
    body.clear()
    if view.banner is not None:
        body.append(OdfParagraph(view.banner, style=_odf_name(_BANNER.name)))
    for paragraph in draft.paragraphs:
        element = OdfParagraph(style=_odf_name(_paragraph_look(paragraph).name))
        if paragraph.origin == "human":
            element.append(Span(paragraph.text, style=_odf_name(_AGENT.name)))
        else:
            element.append_plain_text(paragraph.text)
        note = view.note(paragraph)
        if note is not None:
            annotation = Annotation(
                note, creator=_COMMENT_AUTHOR, date=created, name=f"note-{paragraph.section}"
            )
            element.insert_annotation(annotation, position=0)
        body.append(element)
    meta = odt.meta
    meta.set_title(_title(draft))
    meta.set_generator(_generator())
    meta.set_language("fr-FR")
    meta.set_creation_date(created)
    meta.date = created
    for name, value in _metadata(view).items():
        meta.set_user_defined_metadata(name, value)
    output = io.BytesIO()
    odt.save(output)
    return _dated_zip(output.getvalue(), created)


def _odf_style(look: _Look) -> Style:
    from odfdo import Style

    text: dict[str, str] = {}
    paragraph: dict[str, str] = {}
    if look.bold:
        text["fo:font-weight"] = "bold"
    if look.color:
        text["fo:color"] = look.color
    if look.background:
        (text if look.character else paragraph)["fo:background-color"] = look.background
    name = _odf_name(look.name)
    if look.character:
        style = Style("text", name=name, display_name=look.name)
    else:
        style = Style("paragraph", name=name, display_name=look.name, parent_style="Standard")
        text |= {"fo:language": "fr", "fo:country": "FR"}
        paragraph |= {"fo:margin-left": f"{look.indent_cm}cm", "fo:margin-bottom": f"{look.space_after_cm}cm"}
        if look.centered:
            paragraph["fo:text-align"] = "center"
        style.set_properties(paragraph, area="paragraph")
    style.set_properties(text, area="text")
    return style


def _docx(view: _Export) -> bytes:
    draft = view.draft
    try:
        from docx import Document
        from docx.oxml.ns import qn
        from docx.shared import Cm
    except ImportError as error:
        raise _missing("DOCX") from error
    created = _created(draft)
    docx = Document()
    section = docx.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin = section.bottom_margin = section.left_margin = section.right_margin = Cm(2)
    for language in docx.styles.element.xpath("w:docDefaults/w:rPrDefault/w:rPr/w:lang"):
        language.set(qn("w:val"), "fr-FR")  # the default template's language is en-US
    for look in _looks(view):
        _docx_style(docx.styles, look)
    if view.banner is not None:
        docx.add_paragraph(view.banner, style=_BANNER.name)
    for paragraph in draft.paragraphs:
        element = docx.add_paragraph(style=_paragraph_look(paragraph).name)
        run = element.add_run(paragraph.text, style=_AGENT.name if paragraph.origin == "human" else None)
        note = view.note(paragraph)
        if note is not None:
            comment = docx.add_comment(run, text=note, author=_COMMENT_AUTHOR, initials="C")
            # python-docx dates a comment with the current time and has no public setter.
            comment._comment_elm.date = created.replace(tzinfo=dt.UTC)
    properties = docx.core_properties
    properties.title = _core_property(_title(draft))
    template = draft.template
    properties.subject = f"Modèle {template.id} {template.version} (SHA-256 {template.sha256})"
    properties.author = _core_property(draft.provenance.organisation)
    properties.identifier = draft.id
    properties.version = str(draft.version)
    properties.revision = draft.version
    properties.content_status = view.banner or "approuvé"
    properties.language = "fr-FR"
    # Core properties hold at most 255 characters each: the identity fits, not the template's as well.
    identity = _identity(draft) | (
        {"courrier-overrides": ", ".join(view.overrides)} if view.overrides else {}
    )
    properties.comments = "\n".join(f"{name}: {value}" for name, value in identity.items())
    properties.last_modified_by = _generator()
    properties.created = properties.modified = created
    output = io.BytesIO()
    docx.save(output)
    return _dated_zip(output.getvalue(), created)


def _core_property(value: str) -> str:
    """A value cut to the 255 characters that a DOCX core property holds."""
    return value if len(value) <= _CORE_PROPERTY_CHARS else value[: _CORE_PROPERTY_CHARS - 1] + "…"


_CORE_PROPERTY_CHARS = 255


def _docx_style(styles: Styles, look: _Look) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, RGBColor
    from docx.styles.style import ParagraphStyle

    kind = WD_STYLE_TYPE.CHARACTER if look.character else WD_STYLE_TYPE.PARAGRAPH
    style = styles.add_style(look.name, kind)  # type: ignore[no-untyped-call]
    if look.background:  # first: python-docx has no API for shading, and inserts the rest in schema order
        properties = style.element.get_or_add_rPr() if look.character else style.element.get_or_add_pPr()
        fill = look.background.removeprefix("#")
        properties.append(OxmlElement("w:shd", {qn("w:val"): "clear", qn("w:fill"): fill}))
    style.font.bold = look.bold or None
    if look.color:
        style.font.color.rgb = RGBColor.from_string(look.color.removeprefix("#"))
    if isinstance(style, ParagraphStyle):
        style.base_style = styles["Normal"]
        layout = style.paragraph_format
        layout.left_indent = Cm(look.indent_cm)
        layout.space_after = Cm(look.space_after_cm)
        if look.centered:
            layout.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _text(view: _Export) -> str:
    """The letter as plain text; after it, one line per paragraph of vetted text overridden."""
    notes = [
        f"[{view.note(p)} : {p.section}]"
        for p in view.draft.paragraphs
        if p.origin == "human" and p.section in view.overrides
    ]
    return "\n\n".join([view.draft.text, *(["\n".join(notes)] if notes else [])]) + "\n"


_WRITERS: dict[Format, Callable[[_Export], bytes]] = {
    "text": lambda view: _text(view).encode(),
    "md": lambda view: _markdown(view).encode(),
    "json": lambda view: (view.draft.to_json() + "\n").encode(),
    "html": lambda view: _html(view).encode(),
    "odt": _odt,
    "docx": _docx,
}
