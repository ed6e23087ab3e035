"""Reproducible drafting with the embedded model: a fixed path for the shared prefix, and replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from courrier import Draft, Drafter, LetterRequest, LocalChatModel, TemplateLibrary, UserError
from courrier._replay import model_for_replay, replay
from courrier.port import CallOptions
from courrier.record import seal

from .conftest import EXAMPLE_REQUESTS, ROOT
from .test_drafting_model import request_for

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="module")
def model() -> LocalChatModel:
    return LocalChatModel()


@pytest.fixture(scope="module")
def draft(model: LocalChatModel) -> Draft:
    return Drafter(llm=model).draft(request_for("accuse-reception-rejet"))


def test_the_same_prompt_gives_the_same_output_whatever_came_before(model: LocalChatModel) -> None:
    messages = [
        ("system", "Tu es un assistant."),
        ("human", "Données : la mairie est ouverte le lundi. Question : quand ?"),
    ]
    shared = "Données : la mairie est ouverte le lundi. "
    first = model.invoke(messages, call_options=CallOptions(max_tokens=40, shared_prefix=shared))
    model.invoke("Écris un poème sur la mer.", max_tokens=20)
    model.invoke([("system", "Autre consigne."), ("human", "Bonjour")], max_tokens=20)
    again = model.invoke(messages, call_options=CallOptions(max_tokens=40, shared_prefix=shared))
    assert again.text == first.text
    assert first.response_metadata["reproducible"] is True
    assert len(first.response_metadata["prefix_stages"]) == 2


def test_attempts_are_recorded_as_reproducible(draft: Draft) -> None:
    attempts = [a for entry in draft.provenance.paragraphs for a in entry.attempts]
    assert attempts
    assert all(a.reproducible for a in attempts)


def test_replay_in_the_same_process_after_other_work(
    draft: Draft, model: LocalChatModel, library: TemplateLibrary
) -> None:
    model.invoke("Parle-moi du code des relations entre le public et l'administration.", max_tokens=30)
    results = replay(draft, library=library, llm=model)
    assert [r.section for r in results] == [e.section for e in draft.provenance.paragraphs if e.attempts]
    assert all(r.identical and r.reproducible for r in results)


def test_courrier_replay_in_a_fresh_process(draft: Draft, tmp_path: Path) -> None:
    path = tmp_path / "brouillon.json"
    path.write_text(draft.to_json(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "courrier", "replay", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "identique" in done.stdout
    assert "DIFFÈRE" not in done.stdout


def test_prompt_lookup_decoding_is_recorded_and_replayed(library: TemplateLibrary) -> None:
    looked_up = LocalChatModel(prompt_lookup=8)
    draft = Drafter(llm=looked_up).draft(request_for("accuse-reception-rejet"))
    assert draft.provenance.model is not None
    assert draft.provenance.model.settings["prompt_lookup"] == 8
    again = model_for_replay(draft, None)
    assert again.prompt_lookup == 8
    looked_up.invoke("Écris un poème sur la mer.", max_tokens=20)  # other work on the same context
    assert all(a.error is None for entry in draft.provenance.paragraphs for a in entry.attempts)
    results = replay(draft, library=library, llm=again)
    assert results
    assert all(r.identical and r.reproducible for r in results)


@pytest.mark.parametrize("path", EXAMPLE_REQUESTS, ids=lambda path: path.stem)
def test_every_shipped_example_replays_identically(
    path: Path, model: LocalChatModel, library: TemplateLibrary
) -> None:
    """Drafted one after the other in one process, so each replay finds another letter's prefix held."""
    draft = Drafter(llm=model).draft(LetterRequest.model_validate_json(path.read_text(encoding="utf-8")))
    attempts = [a for entry in draft.provenance.paragraphs for a in entry.attempts]
    assert attempts
    assert all(a.error is None and a.reproducible for a in attempts)
    results = replay(draft, library=library, llm=model)
    assert [r.section for r in results] == [e.section for e in draft.provenance.paragraphs if e.attempts]
    assert all(r.identical for r in results), [r.section for r in results if not r.identical]


def test_replay_refuses_another_model_file(
    draft: Draft, model: LocalChatModel, library: TemplateLibrary
) -> None:
    record = draft.provenance
    assert record.model is not None
    assert record.model.fingerprint is not None
    other = record.model.model_copy(
        update={"fingerprint": record.model.fingerprint.model_copy(update={"sha256": "0" * 64})}
    )
    changed = record.model_copy(update={"model": other})
    forged = draft.model_copy(update={"provenance": changed, "integrity": seal(changed)})
    with pytest.raises(UserError, match="fichier de modèle différent"):
        replay(forged, library=library, llm=model)


def test_nothing_to_replay_without_a_model(library: TemplateLibrary) -> None:
    template_only = Drafter(llm=None).draft(request_for("accuse-reception-rejet"))
    with pytest.raises(UserError, match="rien à rejouer"):
        model_for_replay(template_only, None)
    assert json.loads(template_only.to_json())["provenance"]["model"] is None
