"""`courrier batch`: many letters from a JSON Lines file, failures reported and skipped, reruns resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel

import courrier._batch
import courrier.model
from courrier import Draft, Journal, verify
from courrier.outputs import Format, document

from .conftest import EXAMPLE_REQUESTS
from .test_cli import run


@pytest.fixture
def requests_file(tmp_path: Path) -> Path:
    lines = [json.dumps(json.loads(path.read_text(encoding="utf-8"))) for path in EXAMPLE_REQUESTS]
    broken = json.loads(lines[0])
    broken["facts"] = {}
    lines[3:3] = ["{pas du json", "", json.dumps(broken)]
    path = tmp_path / "demandes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_batch_drafts_every_letter_and_reports_the_broken_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path
) -> None:
    out = tmp_path / "courriers"
    journal = tmp_path / "journal.sqlite3"
    code, _, err = run(
        capsys, "batch", str(requests_file), "-o", str(out), "--no-llm", "--journal", str(journal)
    )
    assert code == 1
    assert "ligne 4 : échec : champ « (racine) » : JSON invalide" in err
    assert "ligne 6 : échec :" in err
    assert "facts." in err
    drafts = sorted(out.glob("*.json"))
    assert len(drafts) == len(EXAMPLE_REQUESTS)
    assert len(list(out.glob("*.txt"))) == len(EXAMPLE_REQUESTS)
    for path in drafts:
        draft = Draft.from_json(path.read_bytes())
        verify(draft)
        assert path.with_suffix(".txt").read_text(encoding="utf-8") == draft.text + "\n"
    with Journal(journal) as opened:
        assert opened.verify() == len(EXAMPLE_REQUESTS)
    assert f"{len(EXAMPLE_REQUESTS)} courrier(s) rédigé(s), 0 déjà fait(s) (reprise), 2 en échec" in err


def test_a_rerun_resumes_without_drafting_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path
) -> None:
    out = tmp_path / "courriers"
    run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    first = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    code, _, err = run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    assert code == 1
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == first
    assert f"0 courrier(s) rédigé(s), {len(EXAMPLE_REQUESTS)} déjà fait(s) (reprise), 2 en échec" in err


def test_an_interrupted_letter_is_drafted_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path
) -> None:
    out = tmp_path / "courriers"
    run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    victim = sorted(out.glob("*.json"))[0]
    victim.unlink()
    code, _, err = run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    assert code == 1
    assert victim.exists()
    assert "1 courrier(s) rédigé(s)" in err


def test_the_model_is_loaded_once_for_the_whole_batch(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[dict[str, Any]] = []

    def fake_local_model(**settings: Any) -> FakeListChatModel:
        loads.append(settings)
        return FakeListChatModel(responses=["non"])

    monkeypatch.setattr(courrier.model, "LocalEngine", fake_local_model)
    code, _, err = run(capsys, "batch", str(requests_file), "-o", str(tmp_path / "out"), "--no-journal")
    assert code == 1, err
    assert loads == [{}]


def test_missing_requests_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "batch", str(tmp_path / "absent.jsonl"), "-o", str(tmp_path / "out"), "--no-llm"
    )
    assert code == 2
    assert "absent.jsonl" in err


def test_any_failure_of_one_line_is_reported_and_the_batch_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flaky(draft: Draft, format: Format) -> bytes:
        if draft.template.id == "reponse-recours":
            raise OSError("disque plein")
        return document(draft, format)

    out = tmp_path / "courriers"
    with monkeypatch.context() as patch:
        patch.setattr(courrier._batch, "document", flaky)
        code, _, err = run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    assert code == 1
    assert "échec : OSError: disque plein" in err
    assert len(list(out.glob("*.json"))) == len(EXAMPLE_REQUESTS) - 1
    code, _, err = run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    assert "1 courrier(s) rédigé(s)" in err


def test_a_rerun_in_another_format_exports_without_drafting_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path
) -> None:
    out = tmp_path / "courriers"
    run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    drafts = {path.name: path.read_bytes() for path in out.glob("*.json")}
    code, _, err = run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm", "--format", "odt")
    assert code == 1
    assert {path.name: path.read_bytes() for path in out.glob("*.json")} == drafts
    assert len(list(out.glob("*.odt"))) == len(EXAMPLE_REQUESTS)
    assert f"0 courrier(s) rédigé(s), {len(EXAMPLE_REQUESTS)} déjà fait(s)" in err


def test_inserting_a_line_drafts_only_that_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path
) -> None:
    out = tmp_path / "courriers"
    run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    lines = requests_file.read_text(encoding="utf-8").splitlines()
    requests_file.write_text("\n".join([lines[1], *lines]) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "batch", str(requests_file), "-o", str(out), "--no-llm")
    assert code == 1
    assert f"1 courrier(s) rédigé(s), {len(EXAMPLE_REQUESTS)} déjà fait(s)" in err
    assert len(list(out.glob("*.json"))) == len(EXAMPLE_REQUESTS) + 1


def test_a_line_that_is_not_utf8_fails_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path
) -> None:
    requests_file.write_bytes(requests_file.read_bytes() + b'{"template": "\xff"}\n')
    code, _, err = run(capsys, "batch", str(requests_file), "-o", str(tmp_path / "out"), "--no-llm")
    assert code == 1
    assert "3 en échec" in err
    assert f"{len(EXAMPLE_REQUESTS)} courrier(s) rédigé(s)" in err


def test_progress_bar_on_a_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, requests_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # capsys's stream, which the command writes to
    total = len(EXAMPLE_REQUESTS) + 2
    _, _, err = run(capsys, "batch", str(requests_file), "-o", str(tmp_path / "out"), "--no-llm")
    assert f"\r[{'.' * 30}] 0/{total}" in err
    assert f"\r[{'#' * 30}] {total}/{total}\n" in err
