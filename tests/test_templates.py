"""The template library: loading, schemas, hashes and the sandbox."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from courrier import (
    Drafter,
    LetterRequest,
    LibraryNotFound,
    RenderLimitExceeded,
    TemplateDefect,
    TemplateLibrary,
    TemplateNotFound,
)
from courrier.record import missing_mentions

from .conftest import SHIPPED

KINDS = {
    "accuse_reception",
    "demande_pieces",
    "transmission",
    "decision_defavorable",
    "attestation",
    "communication_motifs",
    "communication_documents",
    "reponse_recours",
    "reponse_reclamation",
}


def test_default_library_ships_the_letter_kinds(library: TemplateLibrary) -> None:
    assert len(library) >= 10
    assert {template.kind for template in library} >= KINDS
    shipped = sorted(folder.parent.name for folder in SHIPPED.glob("*/template.toml"))
    assert library.ids() == shipped, "one template per shipped folder, listed in order"
    assert [template.id for template in library] == shipped


def test_unknown_template_is_a_lookup_error(library: TemplateLibrary) -> None:
    with pytest.raises(LookupError) as caught:
        library.get("lettre-inconnue")
    assert isinstance(caught.value, TemplateNotFound)
    assert caught.value.template_id == "lettre-inconnue"
    assert "accuse-reception-acceptation" in caught.value.available


def test_missing_library_folder(tmp_path: Path) -> None:
    with pytest.raises(LibraryNotFound):
        TemplateLibrary.from_path(tmp_path / "absent")


def test_fields_schema_is_json_schema_with_descriptions(library: TemplateLibrary) -> None:
    schema = library.get("accuse-reception-acceptation").fields_schema()
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"objet_demande", "date_reception", "date_decision_implicite"}
    assert schema["properties"]["date_reception"]["format"] == "date"
    assert all(prop.get("description") for prop in schema["properties"].values())
    assert schema["examples"][0]["date_reception"] == "2026-11-16"


def test_every_model_section_has_bounds_and_instructions(library: TemplateLibrary) -> None:
    for template in library:
        for section in template.sections:
            if section.mode != "locked":
                assert section.instructions
                assert section.max_chars


def test_hash_identifies_the_sources(library_copy: Path) -> None:
    before = TemplateLibrary.from_path(library_copy).get("accuse-reception-acceptation").sha256
    assert before == TemplateLibrary.from_path(library_copy).get("accuse-reception-acceptation").sha256
    layout = library_copy / "_layout" / "lettre.j2"
    layout.write_text(layout.read_text().replace("considération distinguée", "considération"))
    after = TemplateLibrary.from_path(library_copy).get("accuse-reception-acceptation").sha256
    assert after != before


def _with_source(root: Path, replace: str, by: str) -> TemplateLibrary:
    source = root / "accuse-reception-acceptation" / "lettre.j2"
    text = source.read_text()
    assert replace in text
    source.write_text(text.replace(replace, by))
    return TemplateLibrary.from_path(root)


def test_output_size_is_bounded(library_copy: Path, sample_request: LetterRequest) -> None:
    library = _with_source(library_copy, "{{ objet_demande }}", "{{ objet_demande * 10**7 }}")
    with pytest.raises(RenderLimitExceeded):
        Drafter(library=library).draft(sample_request)


def test_long_output_from_a_loop_is_bounded(library_copy: Path, sample_request: LetterRequest) -> None:
    library = _with_source(
        library_copy,
        "{{ objet_demande }}",
        "{% for i in range(99999) %}{{ objet_demande }}{% endfor %}",
    )
    with pytest.raises(RenderLimitExceeded):
        Drafter(library=library).draft(sample_request)


def test_sandbox_blocks_attribute_escapes(library_copy: Path, sample_request: LetterRequest) -> None:
    library = _with_source(
        library_copy, "{{ objet_demande }}", "{{ objet_demande.__class__.__mro__ }}{{ objet_demande }}"
    )
    with pytest.raises(TemplateDefect):
        Drafter(library=library).draft(sample_request)


def test_sandbox_is_immutable(library_copy: Path, sample_request: LetterRequest) -> None:
    library = _with_source(
        library_copy, "{{ objet_demande }}", "{{ sender.address.append('x') }}{{ objet_demande }}"
    )
    with pytest.raises(TemplateDefect):
        Drafter(library=library).draft(sample_request)


def test_missing_mentions(library: TemplateLibrary) -> None:
    template = library.get("accuse-reception-acceptation")
    labels = missing_mentions(
        "Nous avons reçu, le 2 mars, votre demande.", template.manifest.required_mentions
    )
    assert "Date de réception de la demande (R112-5, 1°)" not in labels
    assert "Service chargé du dossier (R112-5, 2°)" in labels


def test_mentions_ignore_line_breaks_and_no_break_spaces(library: TemplateLibrary) -> None:
    template = library.get("accuse-reception-acceptation")
    text = "Le service chargé\nde votre\xa0dossier est"
    labels = missing_mentions(text, template.manifest.required_mentions)
    assert "Service chargé du dossier (R112-5, 2°)" not in labels


def test_letter_date_defaults_to_the_drafters_clock(
    sample_request: LetterRequest, library: TemplateLibrary
) -> None:
    at = dt.datetime(2026, 3, 14, 23, 59, 30).astimezone()  # aware, in local time: the letter's day
    draft = Drafter(library=library, clock=lambda: at).draft(sample_request.model_copy(update={"date": None}))
    assert draft.request.date == dt.date(2026, 3, 14)
    assert draft.provenance.created_at == at
    assert "14 mars 2026" in draft.text


@pytest.fixture
def paris_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to Europe/Paris for the test, restored after."""
    if not hasattr(time, "tzset") or not Path("/usr/share/zoneinfo/Europe/Paris").exists():
        pytest.skip("no time zone database to switch the local time zone")
    with monkeypatch.context() as patch:
        patch.setenv("TZ", "Europe/Paris")
        time.tzset()
        yield
    time.tzset()


@pytest.mark.usefixtures("paris_time")
def test_the_letter_is_dated_in_local_time(sample_request: LetterRequest, library: TemplateLibrary) -> None:
    at = dt.datetime(2026, 3, 14, 23, 30, tzinfo=dt.UTC)  # already 00:30 on the 15th in Paris
    draft = Drafter(library=library, clock=lambda: at).draft(sample_request.model_copy(update={"date": None}))
    assert draft.request.date == dt.date(2026, 3, 15)
    assert draft.provenance.created_at == at


def test_a_request_date_wins_over_the_clock(sample_request: LetterRequest, library: TemplateLibrary) -> None:
    at = dt.datetime(2026, 3, 14, 12, tzinfo=dt.UTC)
    request = sample_request.model_copy(update={"date": dt.date(2026, 1, 5)})
    draft = Drafter(library=library, clock=lambda: at).draft(request)
    assert draft.request.date == dt.date(2026, 1, 5)
    assert draft.provenance.created_at == at


def test_printing_none_is_a_template_defect(library_copy: Path, sample_request: LetterRequest) -> None:
    library = _with_source(library_copy, "{{ objet_demande }}", "{{ objet_demande }}{{ references.yours }}")
    with pytest.raises(TemplateDefect, match="None"):
        Drafter(library=library).draft(sample_request)
