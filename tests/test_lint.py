"""`courrier lint` finds each kind of defect, and the shipped library is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from courrier import TemplateDefect, TemplateLibrary
from courrier.lint import lint

from .conftest import SHIPPED

TEMPLATE = "accuse-reception-acceptation"


def test_shipped_templates_lint_clean() -> None:
    assert lint(SHIPPED) == []


def _edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / TEMPLATE / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


DEFECTS = [
    pytest.param("template.toml", 'version = "1.0.0"', 'version = "un"', "version", id="bad-manifest-value"),
    pytest.param("template.toml", "[[fields]]", "[[fields]\n", "illisible", id="manifest-not-toml"),
    pytest.param("template.toml", 'kind = "', 'genre = "x"\nkind = "', "genre", id="unknown-manifest-key"),
    pytest.param(
        "lettre.j2", "{{ objet_demande }}", "{{ objet_demande }} {{ commune }}", "commune", id="undeclared"
    ),
    pytest.param(
        "lettre.j2",
        "{{ date_reception | date_longue }}",
        "{{ date_decision_implicite | date_longue }}",
        "date_reception",
        id="declared-unused",
    ),
    pytest.param("lettre.j2", "{% block contact %}", "{% block autre %}", "sections", id="section-missing"),
    pytest.param(
        "template.toml",
        'id = "service"\nmode = "locked"',
        'id = "service"\nmode = "fill"',
        "instructions",
        id="fill-without-instructions",
    ),
    pytest.param("lettre.j2", "{% extends", "{% include", "extends", id="no-layout"),
    pytest.param("lettre.j2", "{% block corps %}", "{% block corps %}{% if %}", "illisible", id="syntax"),
    pytest.param(
        "lettre.j2",
        "{% block intitule %}",
        "{% set x = 1 %}\n{% block intitule %}",
        "hors bloc",
        id="code-outside-blocks",
    ),
    pytest.param(
        "lettre.j2",
        "votre demande sera réputée acceptée",
        "votre demande sera acceptée",
        "mention obligatoire",
        id="mention-missing",
    ),
    pytest.param(
        "lettre.j2",
        "Pour toute question, vous pouvez nous contacter en rappelant la référence de ce courrier.",
        "Contactez-nous.",
        "contrôle length (texte trop court",
        id="fallback-out-of-bounds",
    ),
    pytest.param(
        "template.toml",
        "date_reception = 2026-11-16",
        'date_reception = "hier"',
        "date_reception",
        id="example-does-not-validate",
    ),
    pytest.param(
        "lettre.j2",
        "{{ objet_demande }}.",
        "{{ objet_demande }}.{{ sender.case_officer.inconnu }}",
        "ne se rédige pas",
        id="example-does-not-render",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), DEFECTS)
def test_lint_catches(library_copy: Path, file: str, old: str, new: str, expected: str) -> None:
    assert lint(library_copy) == []
    _edit(library_copy, file, old, new)
    problems = lint(library_copy)
    assert problems, "lint should report the defect"
    assert any(expected in problem.message for problem in problems), problems
    assert all(problem.template == TEMPLATE for problem in problems)


def test_structural_defects_also_stop_loading(library_copy: Path) -> None:
    _edit(library_copy, "lettre.j2", "{{ objet_demande }}", "{{ objet_demande }} {{ commune }}")
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(library_copy)
    assert caught.value.template_id == TEMPLATE


def test_lint_checks_the_layout(library_copy: Path) -> None:
    layout = library_copy / "_layout" / "lettre.j2"
    layout.write_text(layout.read_text().replace("{% block signature %}", "{% block paraphe %}"))
    problems = lint(library_copy)
    assert problems
    assert "signature" in problems[0].message


def test_folder_name_must_match_id(library_copy: Path) -> None:
    (library_copy / TEMPLATE).rename(library_copy / "autre-nom")
    assert any("dossier" in problem.message for problem in lint(library_copy))
