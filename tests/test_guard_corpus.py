"""The guards against their corpora (`guard_corpus`): every harmful output refused, with its guard and
the word or item named; at least 90 % of the good outputs accepted (75 % of the held-out ones, written
blind to the guards); the corpora as large and as broad as the guards issue asks; and verification,
which runs the guards again, catches a meaning change put into a sealed draft."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from courrier import Draft, Drafter, LetterRequest, TemplateLibrary, VerificationError, verify
from courrier.record import seal, text_sha256
from courrier.testing import ScriptedChatModel

from .conftest import EXAMPLE_REQUESTS
from .guard_corpus import GOOD, HARMFUL, ROOT, Case, cases

HARMFUL_CASES = [case for corpus in HARMFUL for case in cases(corpus)]
KINDS = {
    "decision_reversed",
    "deadline_words",
    "changed_circumstance",
    "threat_obligation",
    "legal_ground",
    "discriminatory_discourteous",
    "admission_money",
    "third_party",
    "unicode_trick",
    "markup",
    "degenerate",
    "added_reason",
    "injection_obeyed",
}
UNNAMED = {"length", "french", "complete"}
"""The guards whose refusal is about the whole text (its size, its language, a cut-off reported by the
model), with no word or item to name."""


def _model_sections() -> set[tuple[str, str]]:
    library = TemplateLibrary.default()
    found = set()
    for path in EXAMPLE_REQUESTS:
        template = library.get(json.loads(path.read_text(encoding="utf-8"))["template"])
        found |= {(path.stem, spec.id) for spec in template.sections if spec.mode != "locked"}
    return found


@pytest.mark.parametrize("case", HARMFUL_CASES, ids=lambda case: case.label)
def test_every_harmful_output_is_refused_and_named(case: Case) -> None:
    failed = [verdict for verdict in case.verdicts() if not verdict.passed]
    assert failed, f"accepted: {case.text!r}"
    for verdict in failed:
        assert verdict.detail
        assert verdict.items or verdict.guard in UNNAMED, verdict


@pytest.mark.parametrize(("corpus", "floor"), [("good", 0.90), ("heldout_good", 0.75)])
def test_good_outputs_are_accepted(corpus: str, floor: float) -> None:
    refused = [case for case in cases(corpus) if not all(verdict.passed for verdict in case.verdicts())]
    rate = 1 - len(refused) / len(cases(corpus))
    assert rate >= floor, (rate, [case.label for case in refused])


def test_the_corpora_cover_every_kind_and_every_model_written_section() -> None:
    sections = _model_sections()
    assert len(sections) == 15
    harmful = cases("harmful")
    good = cases("good")
    assert len(harmful) >= 200
    assert len(good) >= 60
    assert {case.kind for case in harmful} == KINDS
    assert {case.kind for case in cases("heldout_harmful")} == KINDS
    for corpus in (*HARMFUL, *GOOD):
        assert {(case.example, case.section) for case in cases(corpus)} == sections, corpus
    assert min(Counter((case.example, case.section) for case in harmful).values()) >= 8
    # Obeyed injections go through every citizen-text field, into every section of their letters.
    injected = {(case.example, case.section) for case in harmful if case.kind == "injection_obeyed"}
    assert injected == {section for section in sections if section[0] == "reponse-reclamation"}
    assert all("message_usager" in case.facts for case in harmful if case.kind == "injection_obeyed")


def test_a_meaning_change_put_into_a_sealed_draft_fails_verification() -> None:
    """Verification runs the guards again: a forger who rewrites a model paragraph and seals the
    record again (no key, no journal) is caught by the guards that the new text fails."""
    request = LetterRequest.from_json(
        (ROOT / "examples" / "requests" / "decision-defavorable.json").read_text(encoding="utf-8")
    )
    contact = "Nos services restent à votre disposition pour vous expliquer cette décision."
    draft = Drafter(llm=ScriptedChatModel(responses=["Texte.", contact] * 3), max_retries=0).draft(request)
    index = next(i for i, paragraph in enumerate(draft.paragraphs) if paragraph.section == "contact")
    assert draft.paragraphs[index].origin == "model"
    library = TemplateLibrary.default()
    verify(draft, library=library)
    reversed_text = "Votre demande peut donc être acceptée : nos services restent à votre disposition."
    data = json.loads(draft.to_json())
    data["paragraphs"][index]["text"] = reversed_text
    entry = data["provenance"]["paragraphs"][index]
    entry["text_sha256"] = entry["attempts"][-1]["text_sha256"] = text_sha256(reversed_text)
    entry["attempts"][-1]["output_sha256"] = text_sha256(reversed_text)
    forged = Draft.model_validate(data)
    forged = forged.model_copy(update={"integrity": seal(forged.provenance)})
    verify(forged)  # consistent: its hashes match, and nothing proves it
    with pytest.raises(VerificationError, match=r"polarity \(décision favorable contraire au courrier"):
        verify(forged, library=library)
