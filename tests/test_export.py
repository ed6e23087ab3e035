"""Exports of a draft: text, Markdown and JSON, and the HTML, ODT and DOCX documents an agent reviews.

The drafts: every shipped example with vetted text only, one where a (scripted) model wrote two
paragraphs, and that one once a person edited a paragraph and approved it. The office files are read
back with odfdo and python-docx, and, where LibreOffice is installed, printed to PDF.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import docx
import odfdo
import pytest
from langchain_core.language_models import FakeListChatModel

from courrier import (
    FORMATS,
    Draft,
    Drafter,
    LetterRequest,
    Paragraph,
    UserError,
    VerificationError,
    __version__,
)
from courrier.outputs import BANNER, MODEL_NOTE, Format, document, format_for

from .conftest import EXAMPLE_REQUESTS
from .test_drafting_model import GOOD_CONTACT, GOOD_EXPLANATION, request_for

EDITED_CONTACT = "Nos services restent à votre disposition pour toute question sur cette décision."
RIGHT_BLOCKS = {"destinataire", "lieu_date", "signature"}
NO_LIBREOFFICE = (
    "LibreOffice absent : installez le paquet Debian libreoffice-writer-nogui (make test le fait)"
)
NAMES = [path.stem for path in EXAMPLE_REQUESTS] + ["modele", "approuve"]


@pytest.fixture(scope="module")
def drafts() -> dict[str, Draft]:
    """Every shipped example (vetted text), one with model paragraphs, and that one edited and approved."""
    drafter = Drafter(llm=None)
    examples = {
        path.stem: drafter.draft(LetterRequest.model_validate_json(path.read_text(encoding="utf-8")))
        for path in EXAMPLE_REQUESTS
    }
    model = FakeListChatModel(responses=[GOOD_EXPLANATION, GOOD_CONTACT])
    modele = Drafter(llm=model).draft(request_for("decision-defavorable"))
    approuve = modele.edit("contact", EDITED_CONTACT, author="Maëlle Kerouac").approve(
        by="Yannick Le Goff", role="Premier adjoint au maire"
    )
    assert [p.section for p in modele.paragraphs if p.origin == "model"] == ["explication", "contact"]
    assert [p.origin for p in approuve.paragraphs if p.section in ("explication", "contact")] == [
        "model",
        "human",
    ]
    assert approuve.approved
    return {**examples, "modele": modele, "approuve": approuve}


@pytest.fixture(params=NAMES)
def draft(request: pytest.FixtureRequest, drafts: dict[str, Draft]) -> Draft:
    return drafts[request.param]


def _readable_text(data: bytes, format: Format) -> str:
    """The text a reader of the file sees, roughly: markup and escapes removed, whitespace collapsed."""
    if format == "json":
        text = "\n".join(paragraph["text"] for paragraph in json.loads(data)["paragraphs"])
    elif format in ("odt", "docx"):
        member = "content.xml" if format == "odt" else "word/document.xml"
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            root = ElementTree.fromstring(archive.read(member))
        text = "".join(root.itertext())
    else:
        text = data.decode("utf-8")
        if format == "md":
            text = re.sub(r"\\([^\n])", r"\1", text)
        elif format == "html":
            text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return " ".join(text.split())


def test_every_format_writes_a_document_that_holds_the_letter(draft: Draft) -> None:
    assert FORMATS == ("text", "md", "json", "html", "odt", "docx")
    lines = [" ".join(line.split()) for p in draft.paragraphs for line in p.text.splitlines() if line.strip()]
    for format in FORMATS:
        text = _readable_text(document(draft, format), format)
        at = 0
        for line in lines:
            found = text.find(line, at)
            assert found >= 0, f"{format}: {line!r} missing, or out of order"
            at = found + len(line)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lettre.txt", "text"),
        ("lettre.md", "md"),
        ("brouillon.json", "json"),
        ("lettre.html", "html"),
        ("LETTRE.HTM", "html"),
        ("lettre.odt", "odt"),
        ("lettre.docx", "docx"),
        ("lettre.pdf", None),
        ("lettre.v2", None),
        ("lettre", "text"),
        (".lettre", "text"),
    ],
)
def test_the_format_follows_the_suffix(name: str, expected: str | None) -> None:
    assert format_for(Path("sortie") / name) == expected
    assert format_for(None) == "text"


def test_text_markdown_and_json_keep_their_content(draft: Draft) -> None:
    assert document(draft, "text") == (draft.text + "\n").encode()
    assert Draft.from_json(document(draft, "json")) == draft
    markdown = document(draft, "md").decode()
    header, body = markdown.split("-->\n\n", 1)
    assert f"courrier-draft-id: {draft.id}\n" in header
    assert f"courrier-record-sha256: {draft.sha256}\n" in header
    assert body.count("\n\n") == len(draft.paragraphs) - 1
    assert body.count(MODEL_NOTE) == sum(p.origin == "model" for p in draft.paragraphs)
    assert "Objet : " in body


def test_a_draft_that_fails_verification_is_not_exported(draft: Draft) -> None:
    first = draft.paragraphs[0].model_copy(update={"text": "Autre en-tête"})
    tampered = draft.model_copy(update={"paragraphs": (first, *draft.paragraphs[1:])})
    for format in FORMATS:
        with pytest.raises(VerificationError):
            document(tampered, format)


def test_long_titles_and_authors_fit_docx_core_properties(draft: Draft) -> None:
    long_object = "Objet : " + "très long intitulé " * 30
    edited = draft.edit("objet", long_object, author="Agent", reason="intitulé du service", override=True)
    properties = docx.Document(io.BytesIO(document(edited, "docx"))).core_properties
    assert len(properties.title) == 255
    assert properties.title.endswith("…")


# HTML


class _Page(HTMLParser):
    """What the tests read in an exported page: its language, metadata, and paragraphs with their note."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.meta: dict[str, str] = {}
        self.tags: list[str] = []
        self.blocks: list[dict[str, str]] = []
        self._in_block = False
        self._in_note = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append(tag)
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "meta" and "name" in attributes:
            self.meta[attributes["name"]] = attributes["content"]
        elif tag in ("p", "h1"):
            self.blocks.append({"tag": tag, **attributes, "text": "", "note": ""})
            self._in_block = True
        elif tag == "span" and attributes.get("class") == "note-relecture":
            self._in_note = True

    def handle_endtag(self, tag: str) -> None:
        self._in_note = self._in_note and tag != "span"
        self._in_block = self._in_block and tag not in ("p", "h1")

    def handle_data(self, data: str) -> None:
        if self._in_block:
            self.blocks[-1]["note" if self._in_note else "text"] += data


def _html(draft: Draft) -> tuple[str, _Page]:
    page = document(draft, "html").decode("utf-8")
    return page, _Page(page)


def test_the_html_page_is_french_self_contained_and_identifies_the_draft(draft: Draft) -> None:
    page, parsed = _html(draft)
    assert page.startswith("<!DOCTYPE html>\n")
    assert parsed.lang == "fr"
    assert parsed.tags.count("main") == 1
    assert parsed.meta["generator"] == f"courrier {__version__}"
    assert parsed.meta["courrier-draft-id"] == draft.id
    assert parsed.meta["courrier-version"] == str(draft.version)
    assert parsed.meta["courrier-record-sha256"] == draft.sha256
    assert parsed.meta["courrier-template"] == f"{draft.template.id} {draft.template.version}"
    assert parsed.meta["courrier-template-sha256"] == draft.template.sha256
    assert not re.search(r"\b(src|href)=|url\(|@import", page), "no external resource"
    assert "@page{size:A4;margin:2cm}" in page
    printed = page[page.index("@media print") : page.index("</style>")]
    assert ".note-relecture{display:none}" in printed
    assert "brouillon" not in printed, "the banner stays on paper"


def test_the_html_paragraphs_are_the_letter_with_their_origin(draft: Draft) -> None:
    _, parsed = _html(draft)
    blocks = parsed.blocks
    if not draft.approved:
        banner, *blocks = blocks
        assert (banner["class"], banner["text"]) == ("brouillon", BANNER)
    assert all(block.get("class") != "brouillon" for block in blocks)
    assert [block["data-section"] for block in blocks] == [p.section for p in draft.paragraphs]
    expected_class = {"model": "origine-modele", "human": "origine-agent"}
    for block, paragraph in zip(blocks, draft.paragraphs, strict=True):
        assert block["text"] == paragraph.text
        assert block.get("class") == expected_class.get(paragraph.origin)
        assert block["note"] == (f"{MODEL_NOTE}." if paragraph.origin == "model" else "")
        assert block["tag"] == ("h1" if paragraph.section == "objet" else "p")


def test_html_escapes_the_facts(sample_request: LetterRequest) -> None:
    facts = {**sample_request.facts, "objet_demande": 'une terrasse <script>alert("x")</script> & un auvent'}
    draft = Drafter(llm=None).draft(sample_request.model_copy(update={"facts": facts}))
    page, parsed = _html(draft)
    assert "<script>" not in page
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; un auvent' in page
    assert any('<script>alert("x")</script> & un auvent' in block["text"] for block in parsed.blocks)


# ODT


def _odt(draft: Draft) -> tuple[odfdo.Document, list[odfdo.Paragraph]]:
    odt = odfdo.Document(io.BytesIO(document(draft, "odt")))
    paragraphs = [child for child in odt.body.children if isinstance(child, odfdo.Paragraph)]
    if not draft.approved:
        banner = paragraphs.pop(0)
        assert (banner.style, str(banner)) == ("Courrier_Brouillon", BANNER + "\n")
    assert len(paragraphs) == len(draft.paragraphs)
    return odt, paragraphs


def _title(draft: Draft) -> str:
    return " ".join(next(p.text for p in draft.paragraphs if p.section == "objet").split())


def _expected_style(paragraph: Paragraph) -> str:
    """The style of a paragraph in the office documents (its ODT display name)."""
    if paragraph.origin == "model":
        return "Courrier Modèle"
    if paragraph.section in RIGHT_BLOCKS:
        return "Courrier Bloc droite"
    return "Courrier Objet" if paragraph.section == "objet" else "Courrier Texte"


def test_the_odt_holds_the_letter_its_metadata_and_the_marks_for_review(draft: Draft) -> None:
    odt, paragraphs = _odt(draft)
    styles = [style for style in odt.get_styles("paragraph") if isinstance(style, odfdo.Style)]
    display_names = {style.name: style.display_name for style in styles}
    (model_style,) = [style for style in styles if style.name == "Courrier_Modele"]
    shaded = "fo:background-color" in (model_style.get_properties(area="paragraph") or {})
    assert shaded == (not draft.approved), "an approved version prints without the review backgrounds"
    assert RIGHT_BLOCKS | {"objet"} <= {p.section for p in draft.paragraphs}
    for element, paragraph in zip(paragraphs, draft.paragraphs, strict=True):
        assert element.style is not None
        assert display_names[element.style] == _expected_style(paragraph)
        assert (element.style == "Courrier_Modele") == (paragraph.origin == "model")
        annotations = element.get_annotations()
        assert [a.note_body for a in annotations] == ([MODEL_NOTE] if paragraph.origin == "model" else [])
        assert [span.style for span in element.get_spans()] == (
            ["Courrier_Agent"] if paragraph.origin == "human" else []
        )
        for annotation in annotations:
            annotation.delete()
        assert str(element) == paragraph.text + "\n"
    meta = odt.meta
    assert meta.title == _title(draft)
    assert meta.generator == f"courrier {__version__}"
    assert meta.language == "fr-FR"
    fields = meta.get_user_defined_metadata()
    assert fields["courrier-draft-id"] == draft.id
    assert fields["courrier-record-sha256"] == draft.sha256
    assert fields["courrier-version"] == str(draft.version)
    assert fields["courrier-template"] == f"{draft.template.id} {draft.template.version}"


# DOCX


def test_the_docx_holds_the_letter_its_properties_and_the_marks_for_review(draft: Draft) -> None:
    word = docx.Document(io.BytesIO(document(draft, "docx")))
    paragraphs = list(word.paragraphs)
    if not draft.approved:
        banner = paragraphs.pop(0)
        assert (banner.style.name if banner.style else None, banner.text) == ("Courrier Brouillon", BANNER)
    for element, paragraph in zip(paragraphs, draft.paragraphs, strict=True):
        assert element.text == paragraph.text
        assert element.style is not None
        assert element.style.name == _expected_style(paragraph)
        commented = bool(element._p.xpath("./w:commentRangeStart"))
        assert commented == (paragraph.origin == "model")
        run_styles = {run.style.name for run in element.runs if run.style is not None}
        assert ("Courrier Agent" in run_styles) == (paragraph.origin == "human")
    shaded = bool(word.styles["Courrier Modèle"].element.xpath("./w:pPr/w:shd"))
    assert shaded == (not draft.approved), "an approved version prints without the review backgrounds"
    model_paragraphs = sum(1 for p in draft.paragraphs if p.origin == "model")
    assert [(c.author, c.text) for c in word.comments] == [("courrier", MODEL_NOTE)] * model_paragraphs
    properties = word.core_properties
    assert properties.title == _title(draft)
    assert properties.identifier == draft.id
    assert properties.version == str(draft.version)
    assert f"courrier-record-sha256: {draft.sha256}" in properties.comments
    assert f"courrier-draft-id: {draft.id}" in properties.comments
    assert draft.template.id in properties.subject
    assert properties.content_status == ("approuvé" if draft.approved else BANNER)
    assert properties.created == draft.provenance.created_at.replace(microsecond=0)
    width, height = word.sections[0].page_width, word.sections[0].page_height
    assert width is not None
    assert height is not None
    assert (round(width.cm, 1), round(height.cm, 1)) == (21.0, 29.7)


@pytest.mark.parametrize("format", ["odt", "docx"])
def test_office_files_are_the_same_bytes_every_time(drafts: dict[str, Draft], format: Format) -> None:
    draft = drafts["modele"]
    data = document(draft, format)
    assert document(draft, format) == data
    created = draft.provenance.created_at.timetuple()[:6]
    dos_time = (*created[:5], created[5] - created[5] % 2)  # zip entries store even seconds
    assert {entry.date_time for entry in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {dos_time}


@pytest.mark.parametrize(("format", "module"), [("odt", "odfdo"), ("docx", "docx")])
def test_a_missing_office_library_is_a_user_error(
    drafts: dict[str, Draft], monkeypatch: pytest.MonkeyPatch, format: Format, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(UserError, match=re.escape("pip install 'courrier[office]'")) as caught:
        document(drafts["modele"], format)
    assert str(caught.value).startswith(f"export {format.upper()} indisponible")


# LibreOffice


def _pdf_text(data: bytes) -> str:
    """The text of a PDF that LibreOffice wrote: subset fonts, one-byte codes mapped by ToUnicode CMaps."""
    objects = {int(number): body for number, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", data, re.S)}

    def stream(number: int) -> bytes:
        head, _, rest = objects[number].partition(b"stream")
        content = re.sub(rb"^\r?\n", b"", rest).rsplit(b"endstream", 1)[0]
        return zlib.decompressobj().decompress(content) if b"/FlateDecode" in head else content

    cmaps: dict[int, dict[int, str]] = {}
    for number, body in objects.items():
        if found := re.search(rb"/ToUnicode (\d+) 0 R", body):
            cmap = stream(int(found[1]))
            pairs = [
                pair
                for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S)
                for pair in re.findall(rb"<([0-9A-F]+)>\s*<([0-9A-F]+)>", block)
            ]
            cmaps[number] = {
                int(code, 16): bytes.fromhex(text.decode()).decode("utf-16be") for code, text in pairs
            }
    fonts = {name: cmaps[int(n)] for name, n in re.findall(rb"/(\w+) (\d+) 0 R", data) if int(n) in cmaps}
    kids = re.search(rb"/Type/Pages.*?/Kids\[(.*?)\]", data, re.S)
    assert kids is not None
    text: list[str] = []
    for page in re.findall(rb"(\d+) 0 R", kids[1]):
        contents = re.search(rb"/Contents (\d+) 0 R", objects[int(page)])
        assert contents is not None
        font: dict[int, str] = {}
        for name, codes in re.findall(rb"/(\w+) [\d.]+ Tf|<([0-9A-Fa-f]+)>", stream(int(contents[1]))):
            if name:
                font = fonts[name]
            else:
                text.append("".join(font[code] for code in bytes.fromhex(codes.decode())))
    return "".join(text)


def _squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("format", ["odt", "docx"])
def test_libreoffice_prints_every_letter(drafts: dict[str, Draft], tmp_path: Path, format: Format) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip(NO_LIBREOFFICE)
    files = []
    for name, draft in drafts.items():
        files.append(tmp_path / f"{name}.{format}")
        files[-1].write_bytes(document(draft, format))
    out = tmp_path / "pdf"
    profile = f"-env:UserInstallation={(tmp_path / 'profil').as_uri()}"
    command = [soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(out), *map(str, files)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    for name, draft in drafts.items():
        printed = _squeezed(_pdf_text((out / f"{name}.pdf").read_bytes()))
        for paragraph in draft.paragraphs:
            assert _squeezed(paragraph.text) in printed, (name, paragraph.section)
        assert (_squeezed(BANNER) in printed) == (not draft.approved), name
        assert _squeezed(MODEL_NOTE) not in printed, "review notes are not printed"
