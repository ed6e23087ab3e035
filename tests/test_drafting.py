"""Template-only drafting: every shipped example, validation, and facts kept as data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courrier import Draft, Drafter, InvalidDraft, InvalidRequest, LetterRequest, Template, TemplateLibrary
from courrier.rendering import FieldSpec

from .conftest import EXAMPLE_REQUESTS

LAYOUT_SECTIONS = {"entete", "destinataire", "lieu_date", "objet", "appel", "politesse", "signature"}


@pytest.fixture(scope="module")
def drafter() -> Drafter:
    return Drafter(library=TemplateLibrary.default(), llm=None)


def test_every_template_has_an_example_request(library: TemplateLibrary) -> None:
    assert {path.stem for path in EXAMPLE_REQUESTS} == set(library.ids())


@pytest.mark.parametrize("path", EXAMPLE_REQUESTS, ids=lambda p: p.stem)
def test_every_example_drafts_a_complete_letter(drafter: Drafter, path: Path) -> None:
    request = LetterRequest.model_validate_json(path.read_text(encoding="utf-8"))
    draft = drafter.draft(request)
    template = drafter.library.get(request.template)
    sections = [p.section for p in draft.paragraphs]
    assert set(sections) >= LAYOUT_SECTIONS
    assert sections == [s for s, _ in template.section_plan if s in sections]
    assert all(p.origin == "template" for p in draft.paragraphs)
    assert all(p.text and p.text == p.text.strip() for p in draft.paragraphs)
    assert draft.missing_mentions() == ()
    signatory = request.sender.signatory
    assert signatory.role in draft.text
    assert signatory.last_name.upper() in draft.text
    assert "{{" not in draft.text
    assert "{%" not in draft.text
    if template.manifest.decision:
        assert "Voies et délais de recours" in draft.text


def test_paragraphs_carry_section_mode_origin(drafter: Drafter, sample_request: LetterRequest) -> None:
    draft = drafter.draft(sample_request)
    modes = {p.section: p.mode for p in draft.paragraphs}
    assert modes["entete"] == "locked"
    assert modes["instruction"] == "rephrase"
    assert draft.template.id == "accuse-reception-acceptation"
    assert draft.template.sha256 == drafter.library.get("accuse-reception-acceptation").sha256
    assert draft.text.startswith("Mairie de Saint-Aubin-sur-Loire")
    assert "Pour le maire et par délégation," in draft.text


def test_draft_round_trips_through_json(drafter: Drafter, sample_request: LetterRequest) -> None:
    draft = drafter.draft(sample_request)
    again = Draft.from_json(draft.to_json())
    assert again == draft
    assert again.integrity_problems() == (), "reading does not verify: the seal must still hold"


def test_draft_from_bad_json_names_the_field() -> None:
    with pytest.raises(InvalidDraft) as caught:
        Draft.from_json('{"id": "x"}', source="brouillon.json")
    assert "paragraphs" in caught.value.paths
    assert "brouillon.json" in str(caught.value)


def test_missing_required_fact_is_named(drafter: Drafter, sample_request: LetterRequest) -> None:
    facts = dict(sample_request.facts)
    del facts["date_reception"]
    with pytest.raises(InvalidRequest) as caught:
        drafter.draft(sample_request.model_copy(update={"facts": facts}))
    assert caught.value.paths == ("facts.date_reception",)
    assert "obligatoire" in str(caught.value)


def test_unknown_fact_and_bad_types_are_named(drafter: Drafter, sample_request: LetterRequest) -> None:
    facts = {**sample_request.facts, "date_reception": 20261116, "couleur": "bleu"}
    with pytest.raises(InvalidRequest) as caught:
        drafter.draft(sample_request.model_copy(update={"facts": facts}))
    assert set(caught.value.paths) == {"facts.date_reception", "facts.couleur"}


def test_request_as_mapping_is_validated(drafter: Drafter, sample_request: LetterRequest) -> None:
    data = sample_request.model_dump(mode="json")
    data["sender"]["signatory"].pop("role")
    data["recipient"]["telephone"] = "0600000000"
    with pytest.raises(InvalidRequest) as caught:
        drafter.draft(data)
    assert set(caught.value.paths) == {"sender.signatory.role", "recipient.telephone"}


def test_control_characters_are_refused(drafter: Drafter, sample_request: LetterRequest) -> None:
    facts = {**sample_request.facts, "objet_demande": "une terrasse\x00"}
    with pytest.raises(InvalidRequest, match="contrôle"):
        drafter.draft(sample_request.model_copy(update={"facts": facts}))


def test_template_syntax_in_facts_stays_literal(drafter: Drafter, sample_request: LetterRequest) -> None:
    payload = "{{ 7*7 }} {% raw %} {{ sender.__class__ }}"
    data = sample_request.model_dump(mode="json")
    data["facts"]["objet_demande"] = payload
    data["recipient"]["name"] = "{{ 7*7 }}"
    draft = drafter.draft(data)
    assert payload in draft.text
    assert "Madame {{ 7*7 }}" in draft.text
    assert "Madame 49" not in draft.text


# --- properties ----------------------------------------------------------------------------------

_NONCHARACTERS = [chr(code) for code in range(0xFDD0, 0xFDF0)] + [
    chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)
]
_PRINTABLE = st.characters(
    # Control characters, surrogates and noncharacters are refused at validation.
    blacklist_categories=("Cc", "Cs"),
    blacklist_characters=_NONCHARACTERS,
)
_LINE = st.text(_PRINTABLE, min_size=1, max_size=60).filter(lambda s: s.strip() != "")


def _value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    long_line = st.text(st.one_of(_PRINTABLE, st.just("\n")), min_size=1, max_size=300)
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "text": _LINE,
        "long_text": long_line.filter(lambda s: s.strip() != ""),
        "date": st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat),
        "amount": st.decimals(0, 10**9, places=2, allow_nan=False, allow_infinity=False).map(str),
        "integer": st.integers(0, 10**6),
        "boolean": st.booleans(),
        "list": st.lists(_LINE, min_size=1, max_size=4),
    }
    if spec.type == "choice":
        assert spec.choices is not None
        return st.sampled_from(spec.choices)
    return strategies[spec.type]


@st.composite
def _facts(draw: st.DrawFn, template: Template) -> dict[str, Any]:
    facts = {}
    for spec in template.manifest.fields:
        if spec.required or draw(st.booleans()):
            facts[spec.name] = draw(_value(spec))
    for spec in template.manifest.fields:
        for other, values in (spec.required_when or {}).items():
            if facts.get(other) in values and spec.name not in facts:
                facts[spec.name] = draw(_value(spec))
    return facts


@st.composite
def _request(draw: st.DrawFn, library: TemplateLibrary, base: LetterRequest) -> LetterRequest:
    template = library.get(draw(st.sampled_from(library.ids())))
    return base.model_copy(update={"template": template.id, "facts": draw(_facts(template))})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_valid_facts_render(data: st.DataObject, drafter: Drafter, sample_request: LetterRequest) -> None:
    request = data.draw(_request(drafter.library, sample_request))
    draft = drafter.draft(request)
    assert draft.paragraphs
    assert "Objet :" in draft.text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_LINE)
def test_any_string_in_a_fact_appears_literally(
    value: str, drafter: Drafter, sample_request: LetterRequest
) -> None:
    facts = {**sample_request.facts, "objet_demande": value}
    draft = drafter.draft(sample_request.model_copy(update={"facts": facts}))
    assert value.strip() in draft.text


def _decision_request(**facts: Any) -> LetterRequest:
    path = next(p for p in EXAMPLE_REQUESTS if p.stem == "decision-defavorable")
    request = LetterRequest.model_validate_json(path.read_text(encoding="utf-8"))
    return request.model_copy(update={"facts": {**request.facts, **facts}})


def test_conditionally_required_fact_is_named(drafter: Drafter) -> None:
    with pytest.raises(InvalidRequest) as caught:
        drafter.draft(_decision_request(traitement_algorithmique=True, finalite_traitement=None))
    assert caught.value.paths == ("facts.finalite_traitement",)
    assert "traitement_algorithmique" in str(caught.value)


def test_algorithmic_mention_when_declared(drafter: Drafter) -> None:
    draft = drafter.draft(
        _decision_request(traitement_algorithmique=True, finalite_traitement="calculer un quotient familial")
    )
    assert "traitement algorithmique" in draft.text
    assert "L311-3-1" in draft.text
    without = drafter.draft(_decision_request(traitement_algorithmique=False, finalite_traitement=None))
    assert "traitement algorithmique" not in without.text
