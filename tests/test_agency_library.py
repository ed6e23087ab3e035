"""Agency libraries: they stay inside their folder, render within bounds, run mention patterns in linear
time, and layer on the shipped library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from courrier import (
    Drafter,
    LetterRequest,
    RenderLimitExceeded,
    TemplateDefect,
    TemplateLibrary,
)
from courrier.lint import lint
from courrier.record import MentionSpec, missing_mentions
from courrier.rendering import _sandbox

from .conftest import ROOT, SHIPPED, shipped_library

TEMPLATE = "accuse-reception-acceptation"
SAMPLE = ROOT / "examples" / "requests" / f"{TEMPLATE}.json"
AGENCY_ID = "accuse-reception-agence"


def _copy(root: Path, *parts: str) -> Path:
    for part in parts:
        shutil.copytree(SHIPPED / part, root / part)
    return root


def _full_copy(tmp_path: Path) -> Path:
    """A self-contained library: the shipped layout and partials and one template."""
    return _copy(tmp_path / "agence", "_layout", "_partials", TEMPLATE)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _with_source(root: Path, snippet: str) -> Path:
    """The library at `root`, with `snippet` added after the first fact the template prints."""
    _edit(root / TEMPLATE / "lettre.j2", "{{ objet_demande }}", "{{ objet_demande }}" + snippet)
    return root


def _one_line(error: Exception) -> str:
    message = str(error)
    assert "\n" not in message, message
    return message


def _sample() -> LetterRequest:
    return LetterRequest.model_validate_json(SAMPLE.read_text(encoding="utf-8"))


def _courrier(*args: str) -> subprocess.CompletedProcess[str]:
    # A generous safety timeout: a run that hangs fails here instead of blocking the suite.
    return subprocess.run(
        [sys.executable, "-m", "courrier", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )


def _assert_clean_failure(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert expected in result.stderr


# No escape from the library


@pytest.fixture
def passwd(tmp_path: Path) -> Path:
    """A file outside the library, standing for /etc/passwd."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    return secret


def test_a_symlinked_partial_is_refused(tmp_path: Path, passwd: Path) -> None:
    root = _full_copy(tmp_path)
    partial = root / "_partials" / "service_charge.j2"
    partial.unlink()
    partial.symlink_to(passwd)
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    assert "lien symbolique refusé" in _one_line(caught.value)
    assert caught.value.template_id == str(partial)
    problems = lint(root)
    assert any(
        problem.template == str(partial) and "lien symbolique" in problem.message for problem in problems
    )
    assert any(
        problem.template == TEMPLATE and "service_charge.j2" in problem.message for problem in problems
    )
    result = _courrier("--templates", str(root), "draft", str(SAMPLE), "--no-llm", "--no-journal")
    _assert_clean_failure(result, "lien symbolique refusé")
    assert "root:" not in result.stdout


def test_a_symlinked_template_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = _copy(tmp_path / "ailleurs", TEMPLATE)
    root = _copy(tmp_path / "agence", "_layout", "_partials")
    (root / TEMPLATE).symlink_to(elsewhere / TEMPLATE)
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    assert "lien symbolique refusé" in _one_line(caught.value)
    assert [problem.template for problem in lint(root)] == [str(root / TEMPLATE)]


def test_a_link_made_after_loading_is_refused_when_read(tmp_path: Path, passwd: Path) -> None:
    # Partials are read at the first rendering: the loader checks them again then.
    root = _full_copy(tmp_path)
    library = TemplateLibrary.from_path(root)
    partial = root / "_partials" / "service_charge.j2"
    partial.unlink()
    partial.symlink_to(passwd)
    with pytest.raises(TemplateDefect) as caught:
        Drafter(library=library).draft(_sample())
    assert "lien symbolique refusé" in _one_line(caught.value)


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        pytest.param("../../etc/passwd", "hors de la bibliothèque", id="dot-dot"),
        pytest.param("/etc/passwd", "hors de la bibliothèque", id="absolute"),
        pytest.param("_partials/absent.j2", "introuvable dans la bibliothèque", id="missing"),
    ],
)
def test_an_include_outside_the_library_is_refused(tmp_path: Path, include: str, expected: str) -> None:
    root = _full_copy(tmp_path)
    _edit(root / TEMPLATE / "lettre.j2", "_partials/service_charge.j2", include)
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    message = _one_line(caught.value)
    assert f"fichier inclus {include} illisible : " in message
    assert expected in message
    [problem] = lint(root)
    assert expected in problem.message
    assert "search path" not in problem.message, "Jinja2's English message"
    result = _courrier("--templates", str(root), "draft", str(SAMPLE), "--no-llm", "--no-journal")
    _assert_clean_failure(result, expected)


def test_a_file_that_is_not_utf8_is_a_defect(tmp_path: Path) -> None:
    root = _full_copy(tmp_path)
    (root / "_partials" / "service_charge.j2").write_bytes("Le service chargé".encode("latin-1"))
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    assert "pas en UTF-8" in _one_line(caught.value)


# Bounded rendering


RENDER_LIMITS = [
    pytest.param("{{ 'a'|center(10**9) }}", id="center"),
    pytest.param("{{ 'a\nb'|indent(10**9) }}", id="indent"),
    pytest.param("{{ ('a '*50000)|wordwrap(1, wrapstring='b'*50000) }}", id="wordwrap"),
    pytest.param("{{ '%0999999999d'|format(1) }}", id="format"),
    pytest.param("{{ '%s%s' % ('a'*99999, 'b'*99999) }}", id="percent"),
    pytest.param("{{ (['a'*99999]*1000)|join }}", id="join-repeated"),
    pytest.param("{{ range(100000)|join('x'*99999) }}", id="join-separator"),
    pytest.param("{{ ('a'*1000)|replace('a', 'b'*99999) }}", id="replace"),
    pytest.param("{{ 'a'.ljust(10**9) }}", id="str-method"),
    pytest.param("{{ ['a'*99999]*1000 }}", id="list-printed"),
    pytest.param("{{ ((2**64)**64)**64 }}", id="integer-power"),
    pytest.param("{{ range(1)|batch(10**9, 'x')|list }}", id="batch"),
    pytest.param(
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        id="doubling",
    ),
]


@pytest.mark.parametrize("snippet", RENDER_LIMITS)
def test_huge_values_stop_at_the_size_bound(tmp_path: Path, snippet: str) -> None:
    library = TemplateLibrary.from_path(_with_source(_full_copy(tmp_path), snippet))
    with pytest.raises(RenderLimitExceeded) as caught:
        Drafter(library=library).draft(_sample())
    assert caught.value.template_id == TEMPLATE
    assert "limite de 100000 caractères" in _one_line(caught.value)


RENDER_DEFECTS = [
    pytest.param("{% for i in range(10**9) %}{% endfor %}", "range() donne au plus 100000", id="range"),
    pytest.param(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "rendu interrompu après ",  # 1000000 steps, or 3 s on a loaded machine: both bound it
        id="nested-loops",
    ),
    pytest.param(
        "{% set x %}{% for i in range(100000) %}{% for j in range(100000) %}aaaa{% endfor %}{% endfor %}"
        "{% endset %}",
        "rendu interrompu",
        id="captured-loops",
    ),
    pytest.param(
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "récursion trop profonde", id="macro-recursion"
    ),
    pytest.param(
        "{% macro m(n) %}{% if n %}{{ m(n-1) }}{{ m(n-1) }}{% endif %}{% endmacro %}{{ m(60) }}",
        "rendu interrompu",
        id="macro-fan-out",
    ),
    pytest.param("{{ 'abcdef'|truncate(1) }}", "filtre truncate : arguments refusés", id="truncate"),
    pytest.param("{{ '{:>1000000000}'.format(1) }}", "utiliser le filtre format", id="str-format"),
    pytest.param("{{ ([[1]]*1000)|sum(start=[]) }}", "sum n'additionne que des nombres", id="sum-lists"),
    pytest.param("{{ 1 // 0 }}", "division par zéro", id="zero-division"),
]


@pytest.mark.parametrize(("snippet", "expected"), RENDER_DEFECTS)
def test_runaway_templates_are_defects(tmp_path: Path, snippet: str, expected: str) -> None:
    library = TemplateLibrary.from_path(_with_source(_full_copy(tmp_path), snippet))
    with pytest.raises(TemplateDefect) as caught:
        Drafter(library=library).draft(_sample())
    message = _one_line(caught.value)
    assert message.startswith(f"modèle '{TEMPLATE}' : section reception : "), message
    assert expected in message


def test_rendering_stops_at_the_time_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = TemplateLibrary.from_path(
        _with_source(_full_copy(tmp_path), "{% for i in range(3) %}{% endfor %}")
    )
    monkeypatch.setattr(_sandbox, "MAX_RENDER_SECONDS", -1.0)  # already past: the first step stops
    with pytest.raises(TemplateDefect) as caught:
        Drafter(library=library).draft(_sample())
    assert "rendu interrompu après -1 s" in _one_line(caught.value)


def test_a_self_include_is_refused_before_rendering(tmp_path: Path) -> None:
    root = _full_copy(tmp_path)
    partial = root / "_partials" / "service_charge.j2"
    partial.write_text(partial.read_text(encoding="utf-8") + '{% include "_partials/service_charge.j2" %}')
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    expected = "inclusion circulaire : _partials/service_charge.j2 → _partials/service_charge.j2"
    assert expected in _one_line(caught.value)
    assert [problem.message for problem in lint(root)] == [expected]


def test_an_include_cycle_through_two_files_is_refused(tmp_path: Path) -> None:
    root = _full_copy(tmp_path)
    (root / "_partials" / "a.j2").write_text('{% include "_partials/b.j2" %}', encoding="utf-8")
    (root / "_partials" / "b.j2").write_text('{% include "_partials/a.j2" %}', encoding="utf-8")
    _with_source(root, '{% include "_partials/a.j2" %}')
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    assert "inclusion circulaire : _partials/a.j2 → _partials/b.j2 → _partials/a.j2" in str(caught.value)


def test_bounded_features_still_work(tmp_path: Path) -> None:
    snippet = (
        " [{{ '%05d'|format(42) }} {{ ['a', 'b']|join(', ') }} {% for i in range(3) %}{{ loop.index }}"
        "{% endfor %} {{ 'x'|center(5) }}|{{ 'ab' ~ 'cd' }} {{ 'a-b'|replace('-', '+') }} {{ 2**10 }}]"
    )
    library = TemplateLibrary.from_path(_with_source(_full_copy(tmp_path), snippet))
    draft = Drafter(library=library).draft(_sample())
    assert "[00042 a, b 123   x  |abcd a+b 1024]" in draft.text


def test_letters_render_from_several_threads(library: TemplateLibrary) -> None:
    # The bounds are per rendering thread (no signal): a service renders concurrently.
    expected = Drafter(library=library).draft(_sample()).text
    barrier = threading.Barrier(4)

    def draft(_: int) -> str:
        barrier.wait()
        return Drafter(library=library).draft(_sample()).text

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(draft, range(8))) == [expected] * 8


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        pytest.param("{% for i in range(10**9) %}{% endfor %}", "range() donne au plus", id="range"),
        pytest.param(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "rendu interrompu",
            id="nested-loops",
        ),
        pytest.param(
            "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "récursion trop profonde", id="macro"
        ),
        pytest.param("{{ 'a'|center(10**9) }}", "limite de 100000 caractères", id="center"),
    ],
)
def test_the_command_fails_cleanly_on_a_runaway_template(tmp_path: Path, snippet: str, expected: str) -> None:
    root = _with_source(_full_copy(tmp_path), snippet)
    result = _courrier("--templates", str(root), "draft", str(SAMPLE), "--no-llm", "--no-journal")
    _assert_clean_failure(result, expected)


# Linear-time mention patterns

CATASTROPHIC = r"(\w+\s?)*!"
"""Exponential for a backtracking engine on any long run of words (there is no `!` in a letter)."""


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    mention = MentionSpec(label="Catastrophe", pattern=CATASTROPHIC)
    assert missing_mentions("abcdefghijklmnopqrstuvwxyz " * 2000, (mention,)) == ("Catastrophe",)


def test_a_catastrophic_pattern_in_a_manifest_drafts(tmp_path: Path) -> None:
    root = _full_copy(tmp_path)
    _edit(
        root / TEMPLATE / "template.toml", 'pattern = "avons reçu, le \\\\d"', f"pattern = '{CATASTROPHIC}'"
    )
    draft = Drafter(library=TemplateLibrary.from_path(root)).draft(_sample())
    assert draft.missing_mentions() == ("Date de réception de la demande (R112-5, 1°)",)
    result = _courrier("--templates", str(root), "draft", str(SAMPLE), "--no-llm", "--no-journal")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param(r"(a)\1", "référence arrière", id="backreference"),
        pytest.param(r"reçu(?= le)", "assertion", id="lookahead"),
        pytest.param(r"(?<!non )reçu", "assertion", id="lookbehind"),
        pytest.param(r"\breçu\b", "limite de mot", id="word-boundary"),
        pytest.param(r"[\W]", "dans un ensemble", id="negated-class-in-set"),
        pytest.param(r"reçu (le", "parenthèse fermante manquante", id="syntax"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused(tmp_path: Path, pattern: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        MentionSpec(label="Mention", pattern=pattern)
    root = _full_copy(tmp_path)
    _edit(root / TEMPLATE / "template.toml", 'pattern = "avons reçu, le \\\\d"', f"pattern = '{pattern}'")
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    assert "expression régulière refusée" in _one_line(caught.value)
    [problem] = lint(root)
    assert "required_mentions" in problem.message
    assert expected in problem.message


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        pytest.param(r"le \d+(er)? \w+ \d{4}", "reçue le 1er décembre 2026, est", True, id="unicode-word"),
        pytest.param(r"[\w-]+ février", "le mardi-gras février", True, id="word-in-set"),
        pytest.param(r"^\W", "« Objet", True, id="non-word"),
        pytest.param(r"\D\d", "n°7", True, id="digits"),
        pytest.param(r"(?i)RÉPUTÉE", "sera réputée acceptée", True, id="case-folding"),
        pytest.param(r"[]x]", "a]", True, id="bracket-first-in-set"),
        pytest.param(r"\d{4}$", "en 2026.", False, id="anchored"),
    ],
)
def test_patterns_keep_pythons_meaning(pattern: str, text: str, found: bool) -> None:
    mention = MentionSpec(label="Mention", pattern=pattern)
    assert missing_mentions(text, (mention,)) == (() if found else ("Mention",))


def test_literal_mentions_are_searched_as_text() -> None:
    mention = MentionSpec(label="Recours", text="(CRPA, art. L411-2) : 2 mois.")
    assert missing_mentions("voir (CRPA,\nart. L411-2)  : 2 mois.", (mention,)) == ()
    assert missing_mentions("voir (CRPA, art. L411x2) : 2 mois.", (mention,)) == ("Recours",)


def test_every_shipped_pattern_compiles_and_matches_its_example() -> None:
    library = shipped_library()
    patterns = [
        mention for template in library for mention in template.manifest.required_mentions if mention.pattern
    ]
    assert len(patterns) >= 10
    for template in library:
        draft = Drafter(library=library).draft(
            _sample().model_copy(update={"template": template.id, "facts": template.manifest.example})
        )
        assert draft.missing_mentions() == (), template.id


# Layering on the shipped library


def _agency(tmp_path: Path) -> Path:
    """An agency library with one template of its own and no shared part."""
    root = tmp_path / "agence"
    shutil.copytree(SHIPPED / TEMPLATE, root / AGENCY_ID)
    _edit(root / AGENCY_ID / "template.toml", f'id = "{TEMPLATE}"', f'id = "{AGENCY_ID}"')
    _edit(
        root / AGENCY_ID / "lettre.j2", "Accusé de réception de votre demande", "Accusé de réception (agence)"
    )
    return root


def _request_for(template_id: str) -> LetterRequest:
    return _sample().model_copy(update={"template": template_id})


def test_an_agency_template_uses_the_shipped_layout(tmp_path: Path, library: TemplateLibrary) -> None:
    layered = TemplateLibrary.from_path(_agency(tmp_path), base=library)
    assert layered.ids() == sorted([*library.ids(), AGENCY_ID])
    assert layered.roots == (tmp_path / "agence", *library.roots)
    agency = layered.get(AGENCY_ID)
    assert not agency.shipped
    assert agency.library == tmp_path / "agence"
    assert all(layered.get(template_id).shipped for template_id in library.ids())
    draft = Drafter(library=layered).draft(_request_for(AGENCY_ID))
    assert "Objet : Accusé de réception (agence)" in draft.text
    assert Drafter(library=library).draft(_sample()).text.endswith(draft.text.rpartition("\n\n")[2])
    # Unchanged shipped parts: the shipped templates keep their hashes, so their past drafts verify.
    assert layered.get(TEMPLATE).sha256 == library.get(TEMPLATE).sha256


def test_alone_an_agency_folder_is_the_whole_library(tmp_path: Path) -> None:
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(_agency(tmp_path))
    assert caught.value.template_id == "_layout/lettre.j2"
    assert "introuvable dans la bibliothèque" in _one_line(caught.value)


def test_an_agency_partial_overrides_the_shipped_one(tmp_path: Path, library: TemplateLibrary) -> None:
    root = _agency(tmp_path)
    (root / "_partials").mkdir()
    (root / "_partials" / "service_charge.j2").write_text(
        "Le service chargé de votre dossier est : le guichet unique de l'agence.", encoding="utf-8"
    )
    layered = TemplateLibrary.from_path(root, base=library)
    for template_id in (AGENCY_ID, TEMPLATE):
        text = Drafter(library=layered).draft(_request_for(template_id)).text
        assert "le guichet unique de l'agence" in text
    # The hash covers the partial actually used, wherever it comes from.
    assert layered.get(TEMPLATE).sha256 != library.get(TEMPLATE).sha256
    unaffected = "decision-defavorable"  # includes no service_charge.j2
    assert layered.get(unaffected).sha256 == library.get(unaffected).sha256
    # A shipped template whose vetted text an agency partial changes is no longer courrier's.
    assert not layered.get(TEMPLATE).shipped
    assert layered.get(unaffected).shipped


def test_an_agency_template_replaces_a_shipped_id(tmp_path: Path, library: TemplateLibrary) -> None:
    root = tmp_path / "agence"
    shutil.copytree(SHIPPED / TEMPLATE, root / TEMPLATE)
    _edit(root / TEMPLATE / "lettre.j2", "Accusé de réception de votre demande", "Accusé (version agence)")
    layered = TemplateLibrary.from_path(root, base=SHIPPED)
    assert layered.ids() == library.ids()
    assert not layered.get(TEMPLATE).shipped
    assert "Objet : Accusé (version agence)" in Drafter(library=layered).draft(_sample()).text


def test_a_template_never_mixes_layers(tmp_path: Path, library: TemplateLibrary) -> None:
    # An agency folder with a manifest only does not borrow the shipped template's source.
    root = tmp_path / "agence"
    (root / TEMPLATE).mkdir(parents=True)
    shutil.copy(SHIPPED / TEMPLATE / "template.toml", root / TEMPLATE / "template.toml")
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root, base=library)
    assert f"introuvable dans la bibliothèque : {TEMPLATE}/lettre.j2" in _one_line(caught.value)


def test_lint_of_a_layered_library(tmp_path: Path, library: TemplateLibrary) -> None:
    root = _agency(tmp_path)
    assert lint(root, base=library) == []
    _edit(root / AGENCY_ID / "lettre.j2", "{{ objet_demande }}", "{{ objet }}")
    problems = lint(root, base=library)
    assert [problem.template for problem in problems] == [AGENCY_ID] * len(problems)
    assert any("variable objet utilisée mais non déclarée" in problem.message for problem in problems)


def test_the_command_layers_an_agency_library(tmp_path: Path, library: TemplateLibrary) -> None:
    root = _agency(tmp_path)
    listing = _courrier("--templates", str(root), "templates")
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[0] for line in listing.stdout.splitlines()] == sorted([*library.ids(), AGENCY_ID])
    request = tmp_path / "demande.json"
    request.write_text(json.dumps({**json.loads(SAMPLE.read_text(encoding="utf-8")), "template": AGENCY_ID}))
    drafted = _courrier("--templates", str(root), "draft", str(request), "--no-llm", "--no-journal")
    assert drafted.returncode == 0, drafted.stderr
    assert "Accusé de réception (agence)" in drafted.stdout
    checked = _courrier("lint", str(root))
    assert checked.returncode == 0, checked.stderr
    assert f"{len(library) + 1} modèle(s) vérifié(s) dans {root}" in checked.stdout


# Sources too deep to parse or walk, files that are not files, errors of filters


@pytest.mark.parametrize(
    "snippet",
    [
        pytest.param("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", id="parentheses"),
        pytest.param("{% if 1 %}" * 2000 + "{% endif %}" * 2000, id="nested-ifs"),
        pytest.param("{{ " + " + ".join(["1"] * 20000) + " }}", id="long-sum"),
    ],
)
def test_a_source_too_deep_is_a_one_line_defect(tmp_path: Path, snippet: str) -> None:
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(_with_source(_full_copy(tmp_path), snippet))
    assert "imbriquée" in _one_line(caught.value) or "imbrication" in _one_line(caught.value)


def test_a_manifest_too_deep_is_a_one_line_defect(tmp_path: Path) -> None:
    root = _full_copy(tmp_path)
    manifest = root / TEMPLATE / "template.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    assert "imbrication trop profonde" in _one_line(caught.value)


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    root = _full_copy(tmp_path)
    (root / "_partials" / "service_charge.j2").unlink()
    os.mkfifo(root / "_partials" / "service_charge.j2")
    with pytest.raises(TemplateDefect) as caught:
        TemplateLibrary.from_path(root)
    assert "pas un fichier ordinaire" in _one_line(caught.value)


@pytest.mark.parametrize("snippet", ["{{ 'abc'|dictsort }}", "{{ cycler().next() }}"])
def test_a_filter_that_fails_is_a_one_line_defect(tmp_path: Path, snippet: str) -> None:
    library = TemplateLibrary.from_path(_with_source(_full_copy(tmp_path), snippet))
    with pytest.raises(TemplateDefect) as caught:
        Drafter(library=library).draft(_sample())
    assert _one_line(caught.value).startswith(f"modèle '{TEMPLATE}' : section reception : ")


def test_show_says_when_an_agency_file_changes_a_shipped_template(tmp_path: Path) -> None:
    root = tmp_path / "agence"
    (root / "_partials").mkdir(parents=True)
    partial = (SHIPPED / "_partials" / "voies_recours.j2").read_text(encoding="utf-8")
    (root / "_partials" / "voies_recours.j2").write_text(
        partial.replace("deux mois", "six mois"), encoding="utf-8"
    )
    changed = _courrier("--templates", str(root), "show", "decision-defavorable")
    assert "Textes : en partie propres à l'organisme" in changed.stdout
    untouched = _courrier("--templates", str(root), "show", TEMPLATE)
    assert "Textes : tous fournis avec courrier" in untouched.stdout
