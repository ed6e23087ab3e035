"""The sealed provenance record: verification, tampering, human edits, approval and the hash chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models import FakeListChatModel

from courrier import (
    Draft,
    Drafter,
    InvalidInput,
    Journal,
    LetterRequest,
    MissingMention,
    Paragraph,
    TemplateLibrary,
    UnknownSection,
    UserError,
    VerificationError,
    verify,
)
from courrier.record import ApprovalRecord, ParagraphRecord, canonical_json, seal, sha256_of, text_sha256

from .conftest import shipped_library
from .test_drafting_model import GOOD_CONTACT, GOOD_EXPLANATION, request_for

NEW_CONTACT = "Nos services restent à votre disposition pour toute question sur cette décision."


@pytest.fixture(scope="module")
def draft() -> Draft:
    llm = FakeListChatModel(responses=[GOOD_EXPLANATION, GOOD_CONTACT])
    return Drafter(library=shipped_library(), llm=llm).draft(request_for("decision-defavorable"))


def tampered_json(draft: Draft, path: list[str | int], change: str) -> Draft:
    """The draft read back from JSON in which the string at `path` got `change` applied to one char."""
    data = json.loads(draft.to_json())
    node = data
    for key in path[:-1]:
        node = node[key]
    value = node[path[-1]]
    node[path[-1]] = value[:5] + change + value[6:]
    return Draft.from_json(json.dumps(data))


def test_a_fresh_draft_verifies(draft: Draft, library: TemplateLibrary) -> None:
    result = verify(draft, library=library)
    assert result.vetted_text_checked
    assert result.record_sha256 == draft.sha256 == sha256_of(draft.provenance)
    assert result.paragraphs == len(draft.paragraphs)
    assert verify(Draft.from_json(draft.to_json())).record_sha256 == draft.sha256


def test_the_seal_follows_the_hash_contract(draft: Draft) -> None:
    import hashlib

    import rfc8785

    expected = hashlib.sha256(rfc8785.dumps(draft.provenance.model_dump(mode="json"))).hexdigest()
    assert draft.integrity.record_sha256 == expected
    assert canonical_json(draft.provenance) == rfc8785.dumps(json.loads(draft.provenance.model_dump_json()))


_JSON_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from('\x00\x1f\\"\b\f\n\r\t\ue000\U0001f600'))
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _JSON_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_JSON_TEXT, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(_JSON)
def test_canonical_json_is_rfc8785(value: Any) -> None:
    import rfc8785

    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value", [2**53, -(2**53), float("nan"), float("inf"), "\ud800", {"\udc00": 1}, {1: 2}, {"a": object()}]
)
def test_canonical_json_refuses_what_rfc8785_cannot_represent(value: Any) -> None:
    with pytest.raises(InvalidInput, match="RFC 8785"):
        canonical_json(value)


def test_the_seal_equals_hashing_each_part_whole(draft: Draft) -> None:
    integrity = seal(draft.provenance)
    assert integrity.record_sha256 == sha256_of(draft.provenance)
    assert integrity.paragraphs_sha256 == tuple(sha256_of(entry) for entry in draft.provenance.paragraphs)


def test_one_changed_character_in_the_text_names_the_paragraph(draft: Draft) -> None:
    for index, paragraph in enumerate(draft.paragraphs):
        changed = tampered_json(draft, ["paragraphs", index, "text"], "#")
        with pytest.raises(VerificationError) as caught:
            verify(changed)
        assert caught.value.sections == (paragraph.section,), paragraph.section
        assert f"paragraphe {index + 1} ({paragraph.section})" in str(caught.value)


@pytest.mark.parametrize("field", ["text_sha256", "vetted_sha256", "section"])
def test_one_changed_character_in_the_record_names_the_paragraph(draft: Draft, field: str) -> None:
    index = next(i for i, p in enumerate(draft.paragraphs) if p.section == "explication")
    changed = tampered_json(
        draft, ["provenance", "paragraphs", index, field], "0" if field != "section" else "X"
    )
    with pytest.raises(VerificationError) as caught:
        verify(changed)
    assert "explication" in caught.value.sections


def test_a_changed_guard_verdict_is_detected(draft: Draft) -> None:
    data = json.loads(draft.to_json())
    index = next(i for i, p in enumerate(draft.paragraphs) if p.section == "explication")
    data["provenance"]["paragraphs"][index]["attempts"][0]["verdicts"][0]["passed"] = False
    with pytest.raises(VerificationError) as caught:
        verify(Draft.from_json(json.dumps(data)))
    assert caught.value.sections == ("explication",)


def test_changed_facts_or_header_are_detected(draft: Draft) -> None:
    data = json.loads(draft.to_json())
    data["request"]["facts"]["tribunal_administratif"] = "Nantes"
    with pytest.raises(VerificationError, match="faits"):
        verify(Draft.from_json(json.dumps(data)))
    changed = tampered_json(draft, ["provenance", "organisation"], "X")
    with pytest.raises(VerificationError, match="registre de provenance ne correspond pas au sceau"):
        verify(changed)


def test_a_resealed_forgery_is_caught_against_the_template(draft: Draft, library: TemplateLibrary) -> None:
    """A forger who also rewrites the hashes passes the seal, but not a fresh rendering of the template."""
    index = next(i for i, p in enumerate(draft.paragraphs) if p.section == "voies_recours")
    forged_text = draft.paragraphs[index].text.replace("deux mois", "quinze jours")
    paragraphs = list(draft.paragraphs)
    paragraphs[index] = paragraphs[index].model_copy(update={"text": forged_text})
    entries = list(draft.provenance.paragraphs)
    digest = text_sha256(forged_text)
    entries[index] = entries[index].model_copy(update={"text_sha256": digest, "vetted_sha256": digest})
    record = draft.provenance.model_copy(update={"paragraphs": tuple(entries)})
    forged = draft.model_copy(
        update={"paragraphs": tuple(paragraphs), "provenance": record, "integrity": seal(record)}
    )
    verify(forged)
    with pytest.raises(VerificationError) as caught:
        verify(forged, library=library)
    assert caught.value.sections == ("voies_recours",)


def resealed(draft: Draft, paragraphs: list[Paragraph] | None = None, **record: Any) -> Draft:
    """A forgery made by someone who also rewrites every hash: it passes the seal checks."""
    texts = paragraphs if paragraphs is not None else list(draft.paragraphs)
    entries = record.pop("entries", None) or [
        entry.model_copy(update={"text_sha256": text_sha256(p.text)})
        for p, entry in zip(texts, draft.provenance.paragraphs, strict=True)
    ]
    provenance = draft.provenance.model_copy(update={"paragraphs": tuple(entries), **record})
    return draft.model_copy(
        update={"paragraphs": tuple(texts), "provenance": provenance, "integrity": seal(provenance)}
    )


def test_an_accepted_text_recorded_as_cut_off_fails_against_the_library(
    draft: Draft, library: TemplateLibrary
) -> None:
    index, entry = next((i, e) for i, e in enumerate(draft.provenance.paragraphs) if e.origin == "model")
    attempt = entry.attempts[-1]
    assert attempt.usage is not None
    cut = attempt.model_copy(update={"usage": attempt.usage.model_copy(update={"finish_reason": "length"})})
    entries = list(draft.provenance.paragraphs)
    entries[index] = entry.model_copy(update={"attempts": (*entry.attempts[:-1], cut)})
    forged = resealed(draft, entries=entries)
    verify(forged)
    with pytest.raises(VerificationError, match="complete") as caught:
        verify(forged, library=library)
    assert caught.value.sections == (entry.section,)


def test_a_changed_template_fails_against_the_library(draft: Draft, library: TemplateLibrary) -> None:
    older = resealed(draft, template=draft.template.model_copy(update={"sha256": "f" * 64}))
    verify(older)
    with pytest.raises(VerificationError, match="modifié depuis la rédaction"):
        verify(older, library=library)
    unknown = resealed(draft, template=draft.template.model_copy(update={"id": "inconnu"}))
    with pytest.raises(VerificationError, match="absent de la bibliothèque"):
        verify(unknown, library=library)


def _swap(draft: Draft, section: str, **changes: Any) -> tuple[list[Paragraph], list[ParagraphRecord]]:
    paragraphs, entries = list(draft.paragraphs), list(draft.provenance.paragraphs)
    index = next(i for i, p in enumerate(paragraphs) if p.section == section)
    paragraphs[index] = paragraphs[index].model_copy(update=changes)
    entry_changes = {k: v for k, v in changes.items() if k != "text"}
    entry_changes["text_sha256"] = text_sha256(paragraphs[index].text)
    entries[index] = entries[index].model_copy(update=entry_changes)
    return paragraphs, entries


@pytest.mark.parametrize(
    ("section", "changes", "found"),
    [
        ("motifs", {"text": "Texte inventé.", "origin": "human"}, "dernière modification"),
        ("motifs", {"text": "Texte inventé.", "mode": "rephrase", "origin": "model"}, "sortie acceptée"),
        ("explication", {"text": GOOD_EXPLANATION + " Rendez-vous le 3 mars 2027."}, "sortie acceptée"),
    ],
)
def test_resealed_relabelled_paragraphs_are_caught_without_the_library(
    draft: Draft, section: str, changes: dict[str, Any], found: str
) -> None:
    paragraphs, entries = _swap(draft, section, **changes)
    with pytest.raises(VerificationError, match=found) as caught:
        verify(resealed(draft, paragraphs, entries=entries))
    assert section in caught.value.sections


def test_resealed_model_text_that_fails_the_guards_is_caught_with_the_library(
    draft: Draft, library: TemplateLibrary
) -> None:
    paragraphs, entries = _swap(draft, "explication", text=GOOD_EXPLANATION + " Rendez-vous le 3 mars 2027.")
    index = next(i for i, p in enumerate(paragraphs) if p.section == "explication")
    attempt = entries[index].attempts[-1].model_copy(update={"text_sha256": entries[index].text_sha256})
    entries[index] = entries[index].model_copy(update={"attempts": (attempt,)})
    forged = resealed(draft, paragraphs, entries=entries)
    verify(forged)
    with pytest.raises(VerificationError, match="échoue aux contrôles : invented_items") as caught:
        verify(forged, library=library)
    assert caught.value.sections == ("explication",)


def test_resealed_structure_changes_are_caught_with_the_library(
    draft: Draft, library: TemplateLibrary
) -> None:
    paragraphs, entries = list(draft.paragraphs), list(draft.provenance.paragraphs)
    without_notice = [i for i, p in enumerate(paragraphs) if p.section != "mention_ia"]
    assert len(without_notice) == len(paragraphs) - 1
    forgeries = [
        resealed(
            draft, [paragraphs[i] for i in without_notice], entries=[entries[i] for i in without_notice]
        ),
        resealed(draft, paragraphs[::-1], entries=entries[::-1]),
        resealed(draft, required_mentions=()),
    ]
    for forged in forgeries:
        verify(forged)
        with pytest.raises(VerificationError):
            verify(forged, library=library)


def test_inconsistent_versions_are_caught(draft: Draft) -> None:
    approval = ApprovalRecord(version=99, by="X", role="Y", at=draft.provenance.created_at)
    with pytest.raises(VerificationError, match="approbation"):
        verify(resealed(draft, approval=approval))
    with pytest.raises(VerificationError, match="version 1"):
        verify(resealed(draft, previous_sha256="0" * 64))


def test_a_tampered_draft_cannot_be_edited_approved_or_journaled(draft: Draft, tmp_path: Path) -> None:
    data = json.loads(draft.to_json())
    index = next(i for i, p in enumerate(draft.paragraphs) if p.section == "voies_recours")
    forged_text = draft.paragraphs[index].text.replace("deux mois", "quinze jours")
    data["paragraphs"][index]["text"] = forged_text
    data["provenance"]["paragraphs"][index]["text_sha256"] = text_sha256(forged_text)
    tampered = Draft.from_json(json.dumps(data))
    with pytest.raises(VerificationError):
        tampered.approve(by="Yannick Le Goff", role="Premier adjoint au maire")
    with pytest.raises(VerificationError):
        tampered.edit("contact", NEW_CONTACT, author="A")
    with Journal(tmp_path / "journal.sqlite3") as journal, pytest.raises(VerificationError):
        journal.record(tampered)


def test_values_outside_canonical_json_are_refused(draft: Draft) -> None:
    data = json.loads(draft.to_json())
    data["provenance"]["paragraphs"][0]["attempts"] = []
    index = next(i for i, p in enumerate(draft.paragraphs) if p.section == "explication")
    data["provenance"]["paragraphs"][index]["attempts"][0]["parameters"]["seed"] = 2**60
    with pytest.raises(InvalidInput, match="RFC 8785"):
        verify(Draft.from_json(json.dumps(data)))


def test_edit_records_author_time_hashes_and_chains(draft: Draft, library: TemplateLibrary) -> None:
    edited = draft.edit("contact", NEW_CONTACT, author="Maëlle Kerouac", reason="ton plus direct")
    assert edited.version == 2
    assert edited.provenance.change == "edited"
    assert edited.provenance.previous_sha256 == draft.sha256
    (edit,) = edited.provenance.edits
    before = next(p.text for p in draft.paragraphs if p.section == "contact")
    assert (edit.author, edit.reason, edit.section, edit.version) == (
        "Maëlle Kerouac",
        "ton plus direct",
        "contact",
        2,
    )
    assert (edit.before_sha256, edit.after_sha256) == (text_sha256(before), text_sha256(NEW_CONTACT))
    contact = next(p for p in edited.paragraphs if p.section == "contact")
    assert (contact.origin, contact.text) == ("human", NEW_CONTACT)
    assert edited.id == draft.id
    verify(edited, library=library)
    assert draft.version == 1  # the original is untouched


def test_approval_requires_every_mention(draft: Draft, library: TemplateLibrary) -> None:
    voies = next(p.text for p in draft.paragraphs if p.section == "voies_recours")
    gutted = draft.edit(
        "voies_recours",
        voies.replace("Voies et délais de recours", "Recours"),
        author="A. Agent",
        reason="essai",
        override=True,
    )
    assert gutted.provenance.missing_mentions == ("Voies et délais de recours (CRPA L411-2 ; CJA R421-5)",)
    with pytest.raises(MissingMention) as caught:
        gutted.approve(by="Yannick Le Goff", role="Premier adjoint au maire")
    assert caught.value.labels == ("Voies et délais de recours (CRPA L411-2 ; CJA R421-5)",)
    assert isinstance(caught.value, UserError)
    verify(gutted, library=library)


def test_approve_then_edit_clears_the_approval(draft: Draft) -> None:
    approved = draft.approve(by="Yannick Le Goff", role="Premier adjoint au maire")
    assert approved.approved
    assert approved.provenance.approval is not None
    assert approved.provenance.approval.role == "Premier adjoint au maire"
    assert approved.provenance.previous_sha256 == draft.sha256
    verify(approved)
    edited = approved.edit("contact", NEW_CONTACT, author="Maëlle Kerouac")
    assert not edited.approved
    assert edited.provenance.previous_sha256 == approved.sha256
    assert [e.version for e in edited.provenance.edits] == [3]


def test_edit_refuses_unknown_sections_same_text_and_blank_author(draft: Draft) -> None:
    with pytest.raises(UnknownSection) as unknown:
        draft.edit("conclusion", "Texte.", author="A")
    assert isinstance(unknown.value, LookupError)
    assert "contact" in unknown.value.available
    same = next(p.text for p in draft.paragraphs if p.section == "contact")
    with pytest.raises(UserError, match="identique"):
        draft.edit("contact", same, author="A")
    with pytest.raises(InvalidInput) as blank:
        draft.edit("contact", NEW_CONTACT, author="  ")
    assert blank.value.paths == ("author",)
    with pytest.raises(InvalidInput):
        draft.approve(by="", role="Maire")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=300).filter(lambda t: t.strip() and "\x00" not in t))
def test_any_edit_verifies_and_any_later_change_is_caught(draft: Draft, text: str) -> None:
    try:
        edited = draft.edit("contact", text, author="Agent")
    except (InvalidInput, UserError):
        return
    verify(edited)
    again = Draft.from_json(edited.to_json())
    assert again == edited
    index = next(i for i, p in enumerate(edited.paragraphs) if p.section == "contact")
    paragraphs = list(edited.paragraphs)
    paragraphs[index] = paragraphs[index].model_copy(update={"text": paragraphs[index].text + "."})
    with pytest.raises(VerificationError):
        verify(edited.model_copy(update={"paragraphs": tuple(paragraphs)}))


def test_every_example_verifies_without_a_model(library: TemplateLibrary, tmp_path: Path) -> None:
    for template_id in library.ids():
        draft = Drafter(library=library, llm=None).draft(request_for(template_id))
        verify(Draft.from_json(draft.to_json()), library=library)


def test_request_round_trip_keeps_hashes_stable() -> None:
    request: LetterRequest = request_for("reponse-communication-documents")
    draft = Drafter(library=shipped_library(), llm=None).draft(request)
    assert sha256_of(Draft.from_json(draft.to_json()).request) == draft.provenance.request_sha256
