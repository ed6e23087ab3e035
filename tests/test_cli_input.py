"""Every bad input, one clean line: exit 2 and one French line naming the file (and the field) for a
mistake of the caller, nothing written when a later step fails, no traceback on a closed pipe or an
ASCII terminal. The command runs in a subprocess, as a user runs it."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import courrier
from courrier import Drafter, InvalidRequest, Journal, LetterRequest, TemplateLibrary, TemplateNotFound
from courrier._cli import main
from courrier._files import MAX_REQUEST_BYTES, read_file, staged_write
from courrier._validation import FALLBACK, MESSAGES, FrozenModel, message_for, problems_from
from courrier.errors import InvalidJournal, JournalError, OutputError, UnreadableFile

from .conftest import ROOT, shipped_library

SAMPLE = ROOT / "examples" / "requests" / "accuse-reception-acceptation.json"
PIECES = ROOT / "examples" / "requests" / "demande-pieces-manquantes.json"
TEMPLATE = "accuse-reception-acceptation"
EXIT_BROKEN_PIPE = 141
INPUTS = {"demande.json", "brouillon.json", "demandes.jsonl", "autre.sqlite3", "dossier"}
"""The files that tests put in the command's folder, left out of what it wrote."""


def courrier_command(
    folder: Path, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m courrier ARGS` in `folder`, its default journal there too."""
    return subprocess.run(
        [sys.executable, "-m", "courrier", *args],
        input=stdin,
        capture_output=True,
        cwd=folder,
        env={**os.environ, "COURRIER_JOURNAL": str(folder / "journal.sqlite3"), **(env or {})},
        check=False,
    )


def one_error(result: subprocess.CompletedProcess[bytes], code: int, *expected: str) -> str:
    """The single line of stderr of a run that failed with `code`, naming every `expected`; no output."""
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("courrier : erreur : ")
    assert result.stdout == b""
    for text in expected:
        assert text in err, (text, err)
    return err


def written(folder: Path) -> list[str]:
    """What a command wrote in `folder`, temporary files included (the tests' own inputs aside)."""
    return sorted(path.name for path in folder.iterdir() if path.name not in INPUTS)


def request_data(path: Path = SAMPLE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def draft_json() -> bytes:
    return Drafter(library=shipped_library()).draft(request_data()).to_json().encode()


@pytest.fixture
def failing_journal(tmp_path: Path) -> Path:
    """A courrier journal that refuses every new event (as a full disk would), once opened."""
    path = tmp_path / "refuse.sqlite3"
    Journal(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disque plein'); END"
        )
    raw.close()
    return path


# --- 1. A closed pipe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("show", TEMPLATE, "--schema"),
        ("draft", str(SAMPLE), "--no-llm", "--no-journal"),
        ("export", "-", "--format", "html"),
        ("prov", "-"),
    ],
    ids=["show", "draft", "export", "prov"],
)
def test_a_closed_pipe_ends_quietly(tmp_path: Path, draft_json: bytes, args: tuple[str, ...]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte, as `| head -1` once it has its line
    try:
        result = subprocess.run(
            [sys.executable, "-m", "courrier", *args],
            input=draft_json,
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == EXIT_BROKEN_PIPE
    assert result.stderr == b""


# --- 2. An ASCII terminal --------------------------------------------------------------------------------


def test_an_ascii_terminal_gets_the_letter_in_utf8_and_messages_escaped(tmp_path: Path) -> None:
    ascii_terminal = {"PYTHONIOENCODING": "ascii"}
    letter = courrier_command(tmp_path, "draft", str(SAMPLE), "--no-llm", "--no-journal", env=ascii_terminal)
    assert letter.returncode == 0, letter.stderr.decode()
    assert "Objet : Accusé de réception" in letter.stdout.decode("utf-8")
    shown = courrier_command(tmp_path, "show", TEMPLATE, env=ascii_terminal)
    assert shown.returncode == 0, shown.stderr.decode()
    assert "Accus\\xe9 de r\\xe9ception" in shown.stdout.decode("ascii")
    missing = courrier_command(tmp_path, "draft", "absente.json", env=ascii_terminal)
    assert "introuvable" in one_error(missing, 2, "absente.json")


# --- 3. Size caps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "cap"),
    [
        (("draft", "/dev/zero"), "1 Mio"),
        (("export", "/dev/zero"), "16 Mio"),
        (("draft", str(SAMPLE), "--no-llm", "--sign-key", "/dev/zero"), "64 Kio"),
    ],
    ids=["request", "draft", "key"],
)
def test_an_endless_file_is_refused_at_its_cap(tmp_path: Path, args: tuple[str, ...], cap: str) -> None:
    one_error(courrier_command(tmp_path, *args), 2, "/dev/zero", f"trop volumineux (au plus {cap})")
    assert written(tmp_path) == []


def test_an_endless_batch_is_refused_before_any_folder_is_made(tmp_path: Path) -> None:
    result = courrier_command(tmp_path, "batch", "/dev/zero", "-o", "sortie", "--no-llm")
    one_error(result, 2, "/dev/zero", "trop volumineux (au plus 128 Mio)")
    assert written(tmp_path) == []


def test_a_request_one_byte_over_the_cap_is_refused(tmp_path: Path) -> None:
    request = tmp_path / "demande.json"
    request.write_bytes(b" " * MAX_REQUEST_BYTES + b"{}")
    one_error(courrier_command(tmp_path, "draft", "demande.json", "--no-llm"), 2, "demande.json", "1 Mio")
    assert written(tmp_path) == []


def test_read_file_reads_up_to_its_limit_and_no_further(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert read_file(path, 10) == b"x" * 10
    with pytest.raises(UnreadableFile, match=r"trop volumineux \(au plus 9 octets\)"):
        read_file(path, 9)
    with pytest.raises(UnreadableFile, match="c'est un dossier"):
        read_file(tmp_path, 10)
    with pytest.raises(UnreadableFile, match="fichier introuvable"):
        read_file(tmp_path / "absent", 10)


# --- 4. Standard input -----------------------------------------------------------------------------------


def test_a_request_and_a_draft_can_come_from_standard_input(tmp_path: Path, draft_json: bytes) -> None:
    letter = courrier_command(tmp_path, "draft", "-", "--no-llm", "--no-journal", stdin=SAMPLE.read_bytes())
    assert letter.returncode == 0, letter.stderr.decode()
    assert "Claire LEMOINE" in letter.stdout.decode()
    exported = courrier_command(tmp_path, "export", "-", "--format", "md", stdin=draft_json)
    assert exported.returncode == 0, exported.stderr.decode()
    assert "Objet : Accusé de réception" in exported.stdout.decode()
    prov = courrier_command(tmp_path, "prov", "-", stdin=draft_json)
    assert prov.returncode == 0, prov.stderr.decode()
    assert "entity" in json.loads(prov.stdout)
    checked = courrier_command(tmp_path, "verify", "-", stdin=draft_json)
    assert checked.returncode == 0, checked.stderr.decode()


def test_a_bad_request_on_standard_input_is_named_so(tmp_path: Path) -> None:
    result = courrier_command(tmp_path, "draft", "-", "--no-llm", stdin=b"{pas du json")
    one_error(
        result, 2, "(entrée standard)", "JSON invalide (clé entre guillemets attendue, ligne 1, colonne 2)"
    )
    assert written(tmp_path) == []


# --- 5. Output suffixes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["draft", "export"])
def test_an_unknown_output_suffix_is_refused_and_nothing_written(
    tmp_path: Path, draft_json: bytes, command: str
) -> None:
    (tmp_path / "brouillon.json").write_bytes(draft_json)
    args = ["draft", str(SAMPLE), "--no-llm"] if command == "draft" else ["export", "brouillon.json"]
    refused = courrier_command(tmp_path, *args, "-o", "lettre.pdf")
    one_error(refused, 2, "lettre.pdf", "extension .pdf inconnue", ".odt (odt)", "--format")
    assert written(tmp_path) == []
    forced = courrier_command(tmp_path, *args, "-o", "lettre.pdf", "--format", "text")
    assert forced.returncode == 0, forced.stderr.decode()
    assert "Objet : Accusé de réception" in (tmp_path / "lettre.pdf").read_text(encoding="utf-8")
    assert "courrier écrit dans lettre.pdf" in forced.stderr.decode()


def test_a_name_without_suffix_is_plain_text_and_a_folder_is_refused(tmp_path: Path) -> None:
    plain = courrier_command(tmp_path, "draft", str(SAMPLE), "--no-llm", "--no-journal", "-o", "lettre")
    assert plain.returncode == 0, plain.stderr.decode()
    assert (tmp_path / "lettre").read_text(encoding="utf-8").startswith("Mairie")
    (tmp_path / "dossier").mkdir()
    folder = courrier_command(tmp_path, "draft", str(SAMPLE), "--no-llm", "-o", "dossier")
    one_error(folder, 2, "dossier est un dossier")
    assert written(tmp_path) == ["lettre"]


# --- 6. The journal and the output succeed or fail together ---------------------------------------------


@pytest.mark.parametrize("output", [["-o", "lettre.odt"], []], ids=["file", "stdout"])
def test_a_failed_journal_leaves_no_letter(tmp_path: Path, failing_journal: Path, output: list[str]) -> None:
    result = courrier_command(
        tmp_path, "draft", str(SAMPLE), "--no-llm", "--journal", str(failing_journal), *output
    )
    one_error(result, 1, str(failing_journal), "disque plein")
    assert [name for name in written(tmp_path) if not name.startswith("refuse.sqlite3")] == []


def test_a_failed_journal_leaves_no_file_of_a_batch_line(tmp_path: Path, failing_journal: Path) -> None:
    (tmp_path / "demandes.jsonl").write_bytes(SAMPLE.read_bytes().replace(b"\n", b"") + b"\n")
    result = courrier_command(
        tmp_path, "batch", "demandes.jsonl", "-o", "sortie", "--no-llm", "--journal", str(failing_journal)
    )
    assert result.returncode == 1
    assert "disque plein" in result.stderr.decode()
    assert list((tmp_path / "sortie").iterdir()) == []


def test_staged_write_renames_only_when_its_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "lettre.txt"
    staged: list[str] = []

    def fail_once_staged() -> None:
        with staged_write(target, b"texte"):
            staged.extend(path.name for path in tmp_path.iterdir())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_once_staged()
    assert len(staged) == 1
    assert staged[0].startswith(".lettre.txt.")
    assert list(tmp_path.iterdir()) == []
    with staged_write(target, b"texte"):
        assert not target.exists()
    assert target.read_bytes() == b"texte"
    assert [path.name for path in tmp_path.iterdir()] == ["lettre.txt"]
    with (
        pytest.raises(OutputError, match="dossier introuvable"),
        staged_write(tmp_path / "absent" / "x", b""),
    ):
        pytest.fail("the block runs only once the file is staged")


# --- 7. Journals that are not journals, and commands that only read --------------------------------------


@pytest.fixture
def not_journals(tmp_path: Path) -> dict[str, Path]:
    garbage = tmp_path / "demande.json"
    garbage.write_bytes(b"\x00courrier?\xff" * 400)
    other = tmp_path / "autre.sqlite3"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE events (id INTEGER PRIMARY KEY)")
    raw.close()
    folder = tmp_path / "dossier"
    folder.mkdir()
    return {"garbage": garbage, "other": other, "folder": folder}


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("garbage", "pas une base SQLite"),
        ("other", "autre application"),
        ("folder", "c'est un dossier"),
    ],
)
def test_a_file_that_is_not_a_journal_is_a_user_mistake(
    tmp_path: Path, not_journals: dict[str, Path], kind: str, reason: str
) -> None:
    journal = not_journals[kind]
    result = courrier_command(
        tmp_path, "draft", str(SAMPLE), "--no-llm", "--journal", str(journal), "-o", "l.txt"
    )
    one_error(result, 2, f"journal {journal}", reason)
    assert written(tmp_path) == []
    with pytest.raises(InvalidJournal, match=reason):
        Journal(journal)


def test_a_command_that_reads_creates_no_journal(tmp_path: Path) -> None:
    result = courrier_command(tmp_path, "history", "abc", "--journal", "sous/dossier/journal.sqlite3")
    one_error(result, 2, "sous/dossier/journal.sqlite3", "journal introuvable")
    default = courrier_command(tmp_path, "history", "abc")
    one_error(default, 2, "journal.sqlite3", "journal introuvable")
    assert written(tmp_path) == []


def test_a_journal_opened_without_creating(tmp_path: Path, draft_json: bytes) -> None:
    path = tmp_path / "journal.sqlite3"
    with pytest.raises(InvalidJournal, match="journal introuvable"):
        Journal(path, read_only=True)
    path.touch()
    with pytest.raises(InvalidJournal, match="journal vide"):
        Journal(path, read_only=True)
    assert path.read_bytes() == b""
    path.unlink()
    draft = courrier.Draft.from_json(draft_json)
    with Journal(path) as journal:
        journal.record(draft)
    before = path.read_bytes()
    with Journal(path, read_only=True) as journal:
        assert [event.draft_id for event in journal.history(draft.id)] == [draft.id]
        assert journal.verify(draft.id) == 1
        with pytest.raises(JournalError, match="lecture seule"):
            journal.record(draft.edit("contact", "Nos services restent à votre disposition.", author="A"))
    assert path.read_bytes() == before


# --- 8. French messages ----------------------------------------------------------------------------------


_CARRIERS = frozenset(
    {"any", "default", "definitions", "definition-ref", "json-or-python", "model-field", "nullable", "union"}
    | {"no-info", "with-info"}  # a validator's function, inside its function-* node
)
"""Kinds of schema node that raise no error of their own (their inner schemas do)."""

_ERRORS_OF_SCHEMA: dict[str, set[str]] = {
    "model": {"model_type", "model_attributes_type"},
    "model-fields": {"missing", "extra_forbidden"},
    "dict": {"dict_type"},
    "list": {"list_type", "too_short", "too_long"},
    "tuple": {"tuple_type", "too_short", "too_long"},
    "tagged-union": {"union_tag_invalid", "union_tag_not_found"},
    "none": {"none_required"},
    "str": {
        "string_type",
        "string_unicode",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
    },
    "literal": {"literal_error"},
    "bool": {"bool_type", "bool_parsing"},
    "int": {"int_type", "int_parsing", "int_parsing_size", "int_from_float"},
    "float": {"float_type", "float_parsing", "finite_number"},
    "decimal": {
        "decimal_type",
        "decimal_parsing",
        "decimal_max_digits",
        "decimal_max_places",
        "decimal_whole_digits",
        "finite_number",
    },
    "date": {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"},
    "datetime": {
        "datetime_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "datetime_object_invalid",
    },
    "function-after": {"value_error", "assertion_error"},
    "function-before": {"value_error", "assertion_error"},
}
"""The errors that pydantic raises for each kind of schema node; the bounds add theirs (`_BOUNDS`)."""

_BOUNDS = {
    "gt": "greater_than", "ge": "greater_than_equal", "lt": "less_than", "le": "less_than_equal",
    "multiple_of": "multiple_of",
}  # fmt: skip


def _models() -> Iterator[type[BaseModel]]:
    """Every data model of courrier, and the facts model of every shipped template."""
    pending: list[type[BaseModel]] = [FrozenModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        yield model
    for template in shipped_library():
        yield template.facts_model


def _error_types(schema: object, kinds: set[str]) -> set[str]:
    """The error types a core schema can raise; `kinds` collects the schema kinds met."""
    found: set[str] = set()
    if isinstance(schema, dict):
        kind = schema.get("type")
        if isinstance(kind, str):
            kinds.add(kind)
            found |= _ERRORS_OF_SCHEMA.get(kind, set())
            found |= {error for key, error in _BOUNDS.items() if key in schema}
        for value in schema.values():
            found |= _error_types(value, kinds)
    elif isinstance(schema, list | tuple):
        for value in schema:
            found |= _error_types(value, kinds)
    return found


def test_every_error_that_a_model_can_raise_has_a_french_message() -> None:
    kinds: set[str] = set()
    errors = {"json_invalid", "json_type"}  # model_validate_json, for every model
    for model in _models():
        errors |= _error_types(model.__pydantic_core_schema__, kinds)
    assert kinds <= _CARRIERS | set(_ERRORS_OF_SCHEMA), "a new kind of schema: list the errors it raises"
    assert {"decimal", "date", "literal", "list", "function-after", "function-before"} <= kinds
    assert sorted(errors - set(MESSAGES)) == []


def test_the_messages_are_french_and_use_their_context() -> None:
    assert message_for("too_short", {"field_type": "List", "min_length": 1, "actual_length": 0}) == (
        "au moins 1 élément(s) attendu(s), 0 donné(s)"
    )
    assert message_for("literal_error", {"expected": "'acceptation' or 'rejet'"}) == (
        "valeur non admise (attendu : 'acceptation' ou 'rejet')"
    )
    assert message_for("string_too_short", {"min_length": 1}) == "ne doit pas être vide"
    assert message_for("greater_than_equal", {"ge": Decimal(0)}) == "doit être supérieur ou égal à 0"
    assert message_for("json_invalid", {"error": "EOF while parsing an object at line 3 column 7"}) == (
        "JSON invalide (fin du texte inattendue, ligne 3, colonne 7)"
    )
    assert message_for("json_invalid", {"error": "something new"}) == "JSON invalide (syntaxe invalide)"
    assert (
        message_for("url_parsing") == FALLBACK.format(type="url_parsing") == "valeur invalide (url_parsing)"
    )
    assert message_for("too_short", {}) == "valeur invalide (too_short)"  # a context it does not expect


def test_validation_errors_of_requests_and_facts_speak_french() -> None:
    data = request_data(PIECES)
    data.update(date="2026-02-30", attachments="aucune", unknown=1)
    data["sender"]["address"] = []
    data["recipient"]["civility"] = "Mx"
    data["facts"].update(
        pieces_manquantes=[], silence_vaut="peut-être", date_limite=dt.date(2026, 1, 1).isoformat()
    )
    data["facts"]["date_reception"] = 20261109
    with pytest.raises(InvalidRequest) as refused:
        Drafter(library=shipped_library()).draft(data)
    messages = dict((problem.path, problem.message) for problem in refused.value.problems)
    assert messages == {
        "sender.address": "au moins 1 élément(s) attendu(s), 0 donné(s)",
        "recipient.civility": "valeur non admise (attendu : 'Madame' ou 'Monsieur')",
        "date": "date invalide (format attendu : AAAA-MM-JJ)",
        "attachments": "liste attendue",
        "unknown": "champ inconnu",
        "facts.date_reception": "date attendue (format AAAA-MM-JJ), pas un nombre",
        "facts.pieces_manquantes": "au moins 1 élément(s) attendu(s), 0 donné(s)",
        "facts.silence_vaut": "valeur non admise (attendu : 'acceptation' ou 'rejet')",
    }


def test_a_pydantic_error_from_the_models_becomes_field_problems() -> None:
    with pytest.raises(ValidationError) as raised:
        courrier.Signatory.model_validate({"first_name": "", "last_name": "a\nb", "role": "x" * 501})
    assert [str(problem) for problem in problems_from(raised.value, prefix="signataire")] == [
        "champ « signataire.first_name » : ne doit pas être vide",
        "champ « signataire.last_name » : une seule ligne attendue (pas de retour à la ligne)",
        "champ « signataire.role » : trop long (au plus 500 caractères)",
    ]


# --- 9. Every fault at once ------------------------------------------------------------------------------


def test_a_bad_date_and_a_missing_fact_are_reported_together(tmp_path: Path) -> None:
    data = request_data()
    data["date"] = "02/11/2026"
    del data["facts"]["date_reception"]
    write_json(tmp_path / "demande.json", data)
    err = one_error(courrier_command(tmp_path, "draft", "demande.json", "--no-llm"), 2, "demande.json")
    assert "champ « date » : date invalide" in err
    assert "champ « facts.date_reception » : obligatoire" in err


_READERS: dict[str, Callable[[dict[str, Any]], object]] = {
    "from_data": lambda data: LetterRequest.from_data(data, library=shipped_library()),
    "from_json": lambda data: LetterRequest.from_json(json.dumps(data), library=shipped_library()),
    "draft": lambda data: Drafter(library=shipped_library()).draft(data),
}


@pytest.mark.parametrize("read", _READERS)
def test_a_missing_city_does_not_hide_the_faults_of_the_facts(read: str) -> None:
    data = request_data(PIECES)
    del data["sender"]["city"]
    data["facts"].update(date_limite="18/12/2026", silence_vaut="oui")
    with pytest.raises(InvalidRequest) as refused:
        _READERS[read](data)
    assert set(refused.value.paths) == {"sender.city", "facts.date_limite", "facts.silence_vaut"}


def test_the_facts_are_checked_only_where_their_template_is_known() -> None:
    library = shipped_library()
    data = request_data()
    del data["recipient"]
    with pytest.raises(InvalidRequest) as refused:
        LetterRequest.from_data({**data, "facts": []}, library=library)
    assert refused.value.paths == ("facts", "recipient")
    with pytest.raises(InvalidRequest) as refused:
        LetterRequest.from_data({**data, "template": "inconnu", "facts": {"x": 1}}, library=library)
    assert refused.value.paths == ("recipient", "template")
    assert "modèle inconnu (disponibles : accuse-reception-acceptation," in str(refused.value)
    with pytest.raises(InvalidRequest) as refused:
        LetterRequest.from_data({**data, "template": ""}, library=library)
    assert refused.value.paths == ("template", "recipient")
    with pytest.raises(TemplateNotFound):
        LetterRequest.from_data({**request_data(), "template": "inconnu"}, library=library)
    with pytest.raises(InvalidRequest) as refused:
        LetterRequest.from_data(data)  # no library: the request alone, its facts unchecked
    assert refused.value.paths == ("recipient",)


@pytest.mark.parametrize("content", [b"[]", b"{", b"\xff\xfe", b'{"template": 1}'])
def test_reading_a_request_never_raises_pydantic_errors(content: bytes) -> None:
    with pytest.raises(InvalidRequest) as refused:
        LetterRequest.from_json(content, library=shipped_library(), source="demande.json")
    assert not isinstance(refused.value, ValidationError)
    assert str(refused.value).startswith("demande.json : champ")


# --- 10. The model file, and the messages of export ------------------------------------------------------


@pytest.mark.parametrize("command", ["draft", "replay"])
def test_a_missing_model_file_is_a_user_mistake(tmp_path: Path, draft_json: bytes, command: str) -> None:
    source = str(SAMPLE) if command == "draft" else "-"
    result = courrier_command(tmp_path, command, source, "--model", "absent.gguf", stdin=draft_json)
    one_error(result, 2, "absent.gguf", "fichier introuvable")
    assert written(tmp_path) == []


# --- The same mistakes, in process (what the coverage gate measures) -------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["draft", str(SAMPLE), "--no-llm", "-o", "lettre.pdf"], 2, "extension .pdf inconnue"),
        (["draft", str(SAMPLE), "--no-llm", "-o", "."], 2, ". est un dossier"),
        (["draft", str(SAMPLE), "--no-llm", "-o", "absent/l.txt"], 2, "dossier de sortie introuvable"),
        (["draft", str(SAMPLE), "--no-llm", "--format", "odt"], 2, "précisez -o FICHIER"),
        (["draft", str(SAMPLE), "--model", "absent.gguf"], 2, "absent.gguf : fichier introuvable"),
        (["draft", str(SAMPLE), "--model", "."], 2, "de . : c'est un dossier"),
        (["draft", str(SAMPLE), "--no-llm", "--retries", "-1"], 2, "--retries"),
        (
            ["draft", str(SAMPLE), "--no-llm", "--journal", "."],
            2,
            "c'est un dossier, pas un fichier de journal",
        ),
        (["draft", "/dev/zero"], 2, "trop volumineux"),
        (["export", "-"], 2, "(entrée standard) : champ « (racine) » : JSON invalide"),
        (["batch", "/dev/zero", "-o", "sortie"], 2, "trop volumineux"),
        (["batch", str(SAMPLE), "-o", "sortie", "--model", "absent.gguf"], 2, "absent.gguf"),
        (["history", "abc", "--journal", "sous/j.sqlite3"], 2, "journal introuvable"),
    ],
)
def test_mistakes_in_process(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    code: int,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{")))
    assert main(args) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert expected in err
    assert written(tmp_path) == []


def test_a_letter_in_process_from_standard_input_journaled_with_its_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failing_journal: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SAMPLE.read_bytes())))
    assert main(["draft", "-", "--no-llm", "-o", "lettre.txt", "--journal", str(failing_journal)]) == 1
    assert "disque plein" in capsys.readouterr().err
    assert not (tmp_path / "lettre.txt").exists()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SAMPLE.read_bytes())))
    assert main(["draft", "-", "--no-llm", "-o", "brouillon.json"]) == 0
    err = capsys.readouterr().err
    assert "brouillon écrit dans brouillon.json" in err
    assert "inscrit au journal" in err
    assert main(["export", "brouillon.json", "-o", "lettre.html"]) == 0
    assert "courrier écrit dans lettre.html" in capsys.readouterr().err
    assert main(["prov", "brouillon.json"]) == 0
    assert "entity" in json.loads(capsys.readouterr().out)


# --- argparse's own mistakes, in one French line ------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "argument obligatoire manquant : COMMANDE"),
        (["draft"], "argument obligatoire manquant : DEMANDE.json"),
        (["templates", "de", "trop"], "argument inconnu : de trop"),
        (["draft", "d.json", "--style", "baroque"], "--style : choix inconnu 'baroque'"),
        (["draft", "d.json", "--retries", "deux"], "--retries : nombre entier attendu, pas 'deux'"),
        (["draft", "d.json", "--no-llm", "--model", "m.gguf"], "--model et --no-llm s'excluent"),
        (["verify", "d.json", "--key"], "--key attend une valeur"),
        (["inconnue"], "COMMANDE : choix inconnu 'inconnue'"),
    ],
)
def test_argparse_mistakes_are_one_french_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"courrier : erreur : {expected}")
    assert err.rstrip().endswith("--help »)")


def test_a_conditional_requirement_is_reported_with_the_other_faults(library: TemplateLibrary) -> None:
    data = json.loads((ROOT / "examples" / "requests" / "decision-defavorable.json").read_text())
    data["facts"] |= {"traitement_algorithmique": True, "date_reception": "02/11/2026"}
    data["facts"].pop("finalite_traitement", None)
    with pytest.raises(InvalidRequest) as caught:
        LetterRequest.from_data(data, library=library)
    assert set(caught.value.paths) == {"facts.date_reception", "facts.finalite_traitement"}


@pytest.mark.parametrize("read_only", [False, True])
def test_a_fifo_or_a_device_is_no_journal(tmp_path: Path, read_only: bool) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(InvalidJournal, match="pas un fichier ordinaire"):
            Journal(path, read_only=read_only)
