"""The `courrier` commands around a draft file: verify, prov, export, history, keygen and signing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prov.model import ProvDocument

from courrier import Draft

from .test_cli import SAMPLE, run


@pytest.fixture
def draft_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    path = tmp_path / "brouillon.json"
    code, _, err = run(capsys, "draft", str(SAMPLE), "--no-llm", "-o", str(path))
    assert code == 0, err
    assert "inscrit au journal" in err
    return path


def test_verify_accepts_a_fresh_draft(capsys: pytest.CaptureFixture[str], draft_file: Path) -> None:
    code, out, _ = run(capsys, "verify", str(draft_file))
    assert code == 0
    assert "conforme" in out
    assert "textes validés recalculés" in out
    assert Draft.from_json(draft_file.read_text()).sha256 in out


def test_verify_names_the_tampered_paragraph(capsys: pytest.CaptureFixture[str], draft_file: Path) -> None:
    data = json.loads(draft_file.read_text())
    index = next(i for i, p in enumerate(data["paragraphs"]) if p["section"] == "decision_implicite")
    data["paragraphs"][index]["text"] = data["paragraphs"][index]["text"].replace("acceptée", "acceptee", 1)
    draft_file.write_text(json.dumps(data))
    code, out, err = run(capsys, "verify", str(draft_file))
    assert code == 1
    assert out == ""
    assert "NON CONFORME" in err
    assert f"paragraphe {index + 1} (decision_implicite)" in err


def test_verify_of_a_file_that_is_not_a_draft_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "autre.json"
    path.write_text('{"bonjour": 1}')
    code, _, err = run(capsys, "verify", str(path))
    assert code == 2
    assert "autre.json" in err
    code, _, err = run(capsys, "verify", str(tmp_path / "absent.json"))
    assert code == 2
    assert "absent.json" in err


def test_prov_prints_prov_json_that_prov_reads(capsys: pytest.CaptureFixture[str], draft_file: Path) -> None:
    code, out, _ = run(capsys, "prov", str(draft_file))
    assert code == 0
    document = ProvDocument.deserialize(content=out, format="json")
    assert document.get_records()


def test_export_writes_the_letter(
    capsys: pytest.CaptureFixture[str], draft_file: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "export", str(draft_file))
    assert code == 0
    assert out == Draft.from_json(draft_file.read_text()).text + "\n"
    markdown = tmp_path / "lettre.md"
    assert run(capsys, "export", str(draft_file), "-o", str(markdown))[0] == 0
    assert "Objet : Accusé de réception" in markdown.read_text()


def test_history_lists_the_journaled_versions(
    capsys: pytest.CaptureFixture[str], draft_file: Path, tmp_path: Path
) -> None:
    draft = Draft.from_json(draft_file.read_text())
    code, out, err = run(capsys, "history", draft.id)
    assert code == 0
    (line,) = out.splitlines()
    assert line.startswith("v1 ")
    assert "rédigé" in line
    assert draft.sha256[:16] in line
    assert "chaîne d'empreintes intacte" in err
    code, _, err = run(capsys, "history", "inconnu")
    assert code == 2
    assert "aucun événement" in err


def test_no_journal_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    journal = tmp_path / "autre.sqlite3"
    code, _, err = run(capsys, "draft", str(SAMPLE), "--no-llm", "--no-journal", "--journal", str(journal))
    assert code == 0
    assert "journal" not in err
    assert not journal.exists()


def test_signed_draft_verifies_with_its_key_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    private, public = tmp_path / "cle.pem", tmp_path / "cle.pub.pem"
    assert run(capsys, "keygen", str(private), str(public))[0] == 0
    other_private, other_public = tmp_path / "autre.pem", tmp_path / "autre.pub.pem"
    assert run(capsys, "keygen", str(other_private), str(other_public))[0] == 0
    signed = tmp_path / "signe.json"
    code, _, err = run(
        capsys, "draft", str(SAMPLE), "--no-llm", "--sign-key", str(private), "-o", str(signed)
    )
    assert code == 0, err
    code, out, _ = run(capsys, "verify", str(signed), "--key", str(public))
    assert code == 0
    assert "signature valide" in out
    code, _, err = run(capsys, "verify", str(signed), "--key", str(other_public))
    assert code == 1
    assert "autre clé" in err
    code, out, _ = run(capsys, "verify", str(signed))
    assert code == 0
    assert "non vérifiée" in out


def test_bad_retries_and_unknown_style_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "draft", str(SAMPLE), "--retries", "-1")
    assert code == 2
    assert "--retries" in err
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "draft", str(SAMPLE), "--style", "poetique")
    assert exit_.value.code == 2


def test_an_unwritable_output_fails_before_drafting_and_journals_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    missing = tmp_path / "absent" / "brouillon.json"
    code, _, err = run(capsys, "draft", str(SAMPLE), "--journal", str(journal), "-o", str(missing))
    assert code == 2
    assert "dossier de sortie introuvable" in err
    assert "Traceback" not in err
    assert not journal.exists()
