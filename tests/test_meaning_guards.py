"""The parts of the meaning guards that the corpora exercise only as a whole: the French reading of
negations and numbers, the incremental check while generating, the word lists' identity in the
record, and the `decides` rule of a manifest."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from courrier import Drafter, LetterRequest, TemplateLibrary
from courrier.guards import EarlyCheck, GuardContext, check_output, refused_so_far, word_lists
from courrier.guards._items import Folded
from courrier.guards._words import words_of
from courrier.rendering import Manifest
from courrier.testing import ScriptedChatModel

from .conftest import EXAMPLE_REQUESTS
from .guard_corpus import GOOD, HARMFUL, _context, cases


def _negated(text: str) -> list[str]:
    return [word.text for word in words_of(text) if word.negated]


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("Votre demande ne répond pas aux conditions.", ["répond"]),
        ("Elle ne peut donc pas être acceptée.", ["peut", "être", "acceptée"]),
        ("Elle ne peut être acceptée.", ["peut", "être", "acceptée"]),
        ("Votre fils ne peut pas avoir la gratuité.", ["peut", "avoir"]),
        ("Votre recours n'est accueilli que sur un point.", []),
        ("L'accueil se fait sans rendez-vous.", ["rendez"]),
        ("Rien ne permet de le dire.", ["permet"]),
        ("N'hésitez pas à nous contacter.", ["hésitez"]),
        ("Elle ne fait l'objet d'aucun recours.", ["fait", "objet", "recours"]),
    ],
)
def test_what_a_negation_bears_on(text: str, negated: list[str]) -> None:
    assert _negated(text) == negated


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("dans un délai d'un mois", (1, "mois")),
        ("vingt et un jours", (21, "jour")),
        ("quatre-vingt-dix euros", (90, "euro")),
        ("trois kilomètres", (3, "kilomètre")),
    ],
)
def test_number_words_are_read_with_their_unit(text: str, key: tuple[int, str]) -> None:
    assert [item.key for item in Folded(text).items if item.kind == "number"] == [key]


def test_one_alone_and_ordinals_are_no_numbers() -> None:
    assert not [item for item in Folded("une demande, le premier adjoint").items if item.kind == "number"]


def _stream(text: str, step: int = 7) -> list[str]:
    return [text[: end + step] for end in range(0, len(text), step)]


@pytest.mark.parametrize("corpus", [*HARMFUL, *GOOD])
def test_the_incremental_check_refuses_what_the_whole_check_refuses(corpus: str) -> None:
    """`EarlyCheck` sees only the sentences written since its last call, yet stops where checking
    the whole text at each piece would: the early guards judge sentence by sentence."""
    for case in cases(corpus)[::3]:
        context = _context(case.example, case.section, "{}" if not case.facts else _facts(case.facts))
        early = EarlyCheck(context)
        incremental = [early(piece) for piece in _stream(case.text)]
        whole = [refused_so_far(context, piece) for piece in _stream(case.text)]
        assert (True in incremental) == (True in whole), case.label


def _facts(facts: Any) -> str:
    import json

    return json.dumps(dict(facts), sort_keys=True)


def test_good_outputs_are_never_stopped_while_generated() -> None:
    for case in cases("good"):
        if all(verdict.passed for verdict in case.verdicts()):
            context = _context(case.example, case.section, "{}")
            early = EarlyCheck(context)
            assert not any(early(piece) for piece in _stream(case.text)), case.label


def test_each_attempt_records_the_word_lists_it_was_checked_with() -> None:
    lists = word_lists()
    assert set(lists) == {"vocabulaire.toml", "listes.toml", "decisions.toml"}
    assert all(value.split(" sha256:")[1].isalnum() for value in lists.values())
    request = LetterRequest.from_json(EXAMPLE_REQUESTS[0].read_text(encoding="utf-8"))
    draft = Drafter(llm=ScriptedChatModel(responses=["Texte."] * 10), max_retries=0).draft(request)
    attempts = [attempt for entry in draft.provenance.paragraphs for attempt in entry.attempts]
    assert attempts
    assert all(attempt.word_lists == lists for attempt in attempts)
    template_only = Drafter(llm=None).draft(request)
    assert "word_lists" not in template_only.to_json()


def test_the_vetted_fallback_of_every_shipped_section_passes_the_new_guards() -> None:
    library = TemplateLibrary.default()
    for path in EXAMPLE_REQUESTS:
        template = library.get(LetterRequest.from_json(path.read_text(encoding="utf-8")).template)
        for spec in template.sections:
            if spec.mode != "locked":
                context: GuardContext = _context(path.stem, spec.id, "{}")
                failed = [v for v in check_output(context.vetted_text, context) if not v.passed]
                assert not failed, (path.stem, spec.id, failed)


def _manifest(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "essai",
        "version": "1.0.0",
        "title": "Essai",
        "kind": "essai",
        "legal_basis": ["CRPA"],
        "review": {"status": "a_relire", "by": "x", "on": "2026-12-01"},
        "fields": [
            {"name": "issue", "type": "choice", "choices": ["rejet", "accord"], "description": "Issue."}
        ],
        "sections": [{"id": "motifs", "mode": "locked"}],
    }
    return {**data, **changes}


def test_a_decision_template_must_say_what_it_decides() -> None:
    with pytest.raises(ValueError, match="decides"):
        Manifest.model_validate(_manifest(decision=True))
    assert Manifest.model_validate(_manifest(decision=True, decides="refus")).decides == "refus"
    with pytest.raises(ValueError, match="chaque choix"):
        Manifest.model_validate(
            _manifest(decision=True, decides={"field": "issue", "values": {"rejet": "refus"}})
        )
    by_choice = {"field": "issue", "values": {"rejet": "refus", "accord": "acceptation"}}
    assert Manifest.model_validate(_manifest(decision=True, decides=by_choice)).decides is not None


def test_a_partial_letter_may_refuse_a_point_but_not_grant_everything() -> None:
    context = _context("reponse-recours", "explication", "{}")
    assert context.decides == "partielle"
    vetted = context.vetted_text
    point = vetted + " La gratuité ne peut donc pas être accordée."
    whole = vetted.replace("n'est accueilli que sur un point", "est accueilli")
    assert all(v.passed for v in check_output(point, context))
    refused = {v.guard: v for v in check_output(whole, context) if not v.passed}
    assert "polarity" in refused
    assert replace(context, decides="acceptation").decides == "acceptation"


def test_a_quantifier_the_sources_lack_widens_the_scope() -> None:
    context = _context("attestation-acceptation-implicite", "portee", "{}")
    widened = (
        "Cette acceptation porte sur votre demande et sur toute autre demande que vous nous présenterez. "
        "Ce courrier vous permet de la prouver : nous vous conseillons de le conserver."
    )
    refused = {v.guard: v for v in check_output(widened, context) if not v.passed}
    assert refused["supported"].items == ("toute",)


def test_a_courtesy_word_comes_only_as_an_offer() -> None:
    context = _context("reponse-reclamation", "conclusion", "{}")
    closing = (
        "Vos remarques nous aident à améliorer nos services ; il n'est toutefois pas utile de nous écrire."
    )
    refused = {v.guard: v for v in check_output(closing, context) if not v.passed}
    assert "utile" in refused["polarity"].items
