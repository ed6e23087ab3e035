"""The `courrier` command: exit codes, French messages, no traceback for a user mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from courrier import Draft, TemplateLibrary
from courrier._cli import main

from .conftest import EXAMPLE_REQUESTS, ROOT

SAMPLE = ROOT / "examples" / "requests" / "accuse-reception-acceptation.json"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_templates_lists_every_template(capsys: pytest.CaptureFixture[str], library: TemplateLibrary) -> None:
    code, out, _ = run(capsys, "templates")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(library) >= 10
    for template, line in zip(library, lines, strict=True):
        assert line.split()[:3] == [template.id, template.version, template.kind]
        assert line.endswith(template.title)


def test_show_describes_a_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "accuse-reception-acceptation")
    assert code == 0
    assert "CRPA, art. L112-3" in out
    assert "date_reception (date, obligatoire)" in out
    assert "instruction : rephrase" in out


def test_show_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "accuse-reception-acceptation", "--schema")
    assert code == 0
    assert json.loads(out)["properties"]["objet_demande"]["type"] == "string"


def test_show_unknown_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "inconnu")
    assert code == 2
    assert out == ""
    assert "modèle inconnu : 'inconnu'" in err


@pytest.mark.parametrize("path", EXAMPLE_REQUESTS, ids=lambda p: p.stem)
def test_draft_prints_the_letter(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    code, out, err = run(capsys, "draft", str(path), "--no-llm")
    assert code == 0, err
    assert "Objet :" in out
    signatory = json.loads(path.read_text())["sender"]["signatory"]
    assert out.rstrip().endswith(f"{signatory['first_name']} {signatory['last_name'].upper()}")


def test_missing_required_field_exits_2_naming_file_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = json.loads(SAMPLE.read_text())
    del data["facts"]["date_reception"]
    request = tmp_path / "demande.json"
    request.write_text(json.dumps(data))
    code, out, err = run(capsys, "draft", str(request), "--no-llm")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert str(request) in err
    assert "facts.date_reception" in err
    assert "obligatoire" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{pas du json", "JSON invalide"),
        ('{"template": "accuse-reception-acceptation"}', "champ « sender » : obligatoire"),
    ],
)
def test_bad_request_files_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, expected: str
) -> None:
    request = tmp_path / "demande.json"
    request.write_text(content)
    code, _, err = run(capsys, "draft", str(request))
    assert code == 2
    assert expected in err
    assert "Traceback" not in err


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "draft", str(tmp_path / "absent.json"))
    assert code == 2
    assert "absent.json" in err


def test_output_file_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    as_json = tmp_path / "brouillon.json"
    assert run(capsys, "draft", str(SAMPLE), "--no-llm", "-o", str(as_json))[0] == 0
    draft = Draft.from_json(as_json.read_text())
    as_text = tmp_path / "lettre.txt"
    assert run(capsys, "draft", str(SAMPLE), "--no-llm", "-o", str(as_text))[0] == 0
    assert as_text.read_text() == draft.text + "\n"
    code, out, _ = run(capsys, "draft", str(SAMPLE), "--no-llm", "--format", "md")
    assert code == 0
    assert "Objet : Accusé de réception de votre demande" in out
    assert "1 place de la Mairie\\\n49000" in out
    assert list(tmp_path.glob(".*tmp")) == []


def test_bad_input_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = tmp_path / "demande.json"
    request.write_text("{}")
    output = tmp_path / "sortie.json"
    assert run(capsys, "draft", str(request), "-o", str(output))[0] == 2
    assert not output.exists()


def test_lint_clean_and_defective(capsys: pytest.CaptureFixture[str], library_copy: Path) -> None:
    code, out, _ = run(capsys, "lint")
    assert code == 0
    assert "aucun problème" in out
    source = library_copy / "accuse-reception-acceptation" / "lettre.j2"
    source.write_text(source.read_text().replace("{{ objet_demande }}", "{{ objet }}"))
    code, out, _ = run(capsys, "lint", str(library_copy))
    assert code == 1
    assert "variable objet utilisée mais non déclarée" in out


def test_agency_library_option(capsys: pytest.CaptureFixture[str], library_copy: Path) -> None:
    code, out, _ = run(capsys, "--templates", str(library_copy), "templates")
    assert code == 0
    assert out.split()[0] == "accuse-reception-acceptation"


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "courrier", "draft", str(SAMPLE), "--no-llm"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Claire LEMOINE" in result.stdout


CONSOLE_SCRIPT = Path(sys.executable).parent / "courrier"


@pytest.mark.skipif(
    not CONSOLE_SCRIPT.exists(), reason="commande courrier non installée dans cet environnement"
)
def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    request = tmp_path / "demande.json"
    request.write_text("[]")
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "draft", str(request)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
