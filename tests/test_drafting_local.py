"""Drafting every shipped template with the embedded model, through the command line, then verifying.

The embedded model is tiny: these tests check structure, guards and provenance, never its wording.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from courrier import Draft, Drafter, LetterRequest, LocalChatModel, verify
from courrier.drafting import prompt_for
from courrier.model import LOAD_SETTINGS

from .conftest import EXAMPLE_REQUESTS
from .test_cli import run

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="module")
def fingerprint_sha256() -> str:
    return LocalChatModel().fingerprint.sha256


@pytest.mark.parametrize("path", EXAMPLE_REQUESTS, ids=lambda p: p.stem)
def test_draft_with_the_embedded_model_then_verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, path: Path, fingerprint_sha256: str
) -> None:
    output = tmp_path / "d.json"
    code, _, drafting = run(capsys, "draft", str(path), "-o", str(output))
    assert code == 0, drafting
    code, out, err = run(capsys, "verify", str(output))
    assert code == 0, err
    assert "conforme" in out

    draft = Draft.from_json(output.read_text(encoding="utf-8"))
    record = draft.provenance
    assert record.model is not None
    assert record.model.fingerprint is not None
    assert record.model.fingerprint.sha256 == fingerprint_sha256
    assert tuple(record.model.settings) == LOAD_SETTINGS
    assert record.style == "standard"
    standard = prompt_for("standard")
    for paragraph, entry in zip(draft.paragraphs, record.paragraphs, strict=True):
        if paragraph.mode == "locked":
            assert not entry.attempts
            assert paragraph.origin == "template"
            continue
        assert 1 <= len(entry.attempts) <= 2
        assert f"section {paragraph.section} :" in drafting
        for attempt in entry.attempts:
            assert (attempt.prompt.id, attempt.prompt.sha256) == (standard.id, standard.sha256)
            assert attempt.parameters["seed"] == 0
            assert attempt.parameters["temperature"] == 0.0
            assert isinstance(attempt.parameters["max_tokens"], int)
            assert attempt.usage is not None
            assert (attempt.usage.input_tokens or 0) > 0
            assert attempt.usage.finish_reason in {"stop", "length", "interrupted"}
            assert attempt.output_sha256 is not None
            assert len(attempt.verdicts) >= 7
            assert attempt.accepted == all(v.passed for v in attempt.verdicts)
        accepted = entry.attempts[-1].accepted
        assert paragraph.origin == ("model" if accepted else "template")
        assert (entry.fallback_reason is None) == accepted
        if not accepted:
            assert len(entry.attempts) == 2
    assert draft.missing_mentions() == ()

    data = json.loads(output.read_text(encoding="utf-8"))
    index = len(data["paragraphs"]) - 1
    data["paragraphs"][index]["text"] += " "
    output.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = run(capsys, "verify", str(output))
    assert code == 1
    assert f"paragraphe {index + 1} (signature)" in err


def test_plain_language_style_with_the_embedded_model() -> None:
    path = next(p for p in EXAMPLE_REQUESTS if p.stem == "reponse-reclamation")
    drafter = Drafter.local(style="langage_clair", max_retries=0)
    draft = drafter.draft(LetterRequest.model_validate_json(path.read_text(encoding="utf-8")))
    verify(draft, library=drafter.library)
    attempts = [a for entry in draft.provenance.paragraphs for a in entry.attempts]
    assert len(attempts) == 3
    assert {a.prompt.id for a in attempts} == {"langage_clair"}
