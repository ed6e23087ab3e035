"""The exception tree: one root, built-in parents, context as attributes, and every error pickles."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

import courrier
import courrier.errors as errors
from courrier import Drafter, LetterRequest
from courrier.errors import (
    ContextOverflow,
    CourrierError,
    FieldProblem,
    IntegrityProblem,
    InvalidDraft,
    InvalidInput,
    InvalidJournal,
    InvalidRequest,
    JournalError,
    LibraryNotFound,
    LockedSection,
    MissingDependency,
    MissingMention,
    ModelError,
    ModelLoadError,
    OutputError,
    RenderLimitExceeded,
    TemplateDefect,
    TemplateError,
    TemplateNotFound,
    UnknownSection,
    UnreadableFile,
    UserError,
    VerificationError,
)

from .conftest import ROOT, shipped_library

SAMPLES: dict[type[CourrierError], CourrierError] = {
    CourrierError: CourrierError("quelque chose"),
    UserError: UserError("max_retries doit être positif ou nul"),
    LibraryNotFound: LibraryNotFound("/modeles"),
    TemplateNotFound: TemplateNotFound("inconnu", ["a", "b"]),
    InvalidInput: InvalidInput([FieldProblem("a", "obligatoire")]),
    InvalidRequest: InvalidRequest([FieldProblem("facts.date", "date invalide")], source="demande.json"),
    InvalidDraft: InvalidDraft([FieldProblem("id", "obligatoire"), FieldProblem("x", "champ inconnu")]),
    UnknownSection: UnknownSection("corps", ["objet", "motifs"]),
    LockedSection: LockedSection("voies_recours", "texte juridique validé"),
    MissingMention: MissingMention(["Voies et délais de recours"]),
    UnreadableFile: UnreadableFile("/demande.json", "fichier introuvable"),
    MissingDependency: MissingDependency("export ODT", "office"),
    OutputError: OutputError("/plein/lettre.odt", "No space left on device"),
    TemplateError: TemplateError("refus", "mal formé"),
    TemplateDefect: TemplateDefect("refus", ["champ inconnu", "section absente"]),
    RenderLimitExceeded: RenderLimitExceeded("refus", 100_000),
    ModelError: ModelError("le modèle ne répond pas"),
    ModelLoadError: ModelLoadError("/m.gguf", "ce n'est pas un fichier GGUF"),
    ContextOverflow: ContextOverflow(5000, 4096),
    VerificationError: VerificationError(
        [IntegrityProblem("texte modifié", 3, "motifs"), IntegrityProblem("x")]
    ),
    JournalError: JournalError("/j.sqlite3", "chaîne rompue"),
    InvalidJournal: InvalidJournal("/etc/passwd", "ce n'est pas un journal courrier"),
}


def _tree() -> set[type[CourrierError]]:
    found: set[type[CourrierError]] = set()
    pending: list[type[CourrierError]] = [CourrierError]
    while pending:
        cls = pending.pop()
        if vars(errors).get(cls.__name__) is cls and not cls.__name__.startswith("_"):
            found.add(cls)
        pending += cls.__subclasses__()
    return found


def test_every_class_of_the_tree_has_a_sample_and_is_exported() -> None:
    assert set(SAMPLES) == _tree()
    assert {cls.__name__ for cls in _tree()} <= set(errors.__all__) & set(courrier.__all__)


@pytest.mark.parametrize("error", SAMPLES.values(), ids=lambda error: type(error).__name__)
def test_every_error_pickles_and_comes_back_equal(error: CourrierError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert again == error
    assert str(again) == str(error)
    assert vars(again) == vars(error)


def test_the_tree_is_drawn_in_the_module_docstring() -> None:
    assert errors.__doc__ is not None
    for cls in _tree():
        assert f" {cls.__name__} " in errors.__doc__ or errors.__doc__.count(cls.__name__), cls.__name__


def test_builtin_parents_let_callers_catch_plainly() -> None:
    assert isinstance(SAMPLES[TemplateNotFound], LookupError)
    assert isinstance(SAMPLES[UnknownSection], LookupError)
    assert isinstance(SAMPLES[InvalidRequest], ValueError)
    assert isinstance(SAMPLES[LibraryNotFound], FileNotFoundError)
    assert isinstance(SAMPLES[MissingDependency], ImportError)
    unreadable, output = SAMPLES[UnreadableFile], SAMPLES[OutputError]
    assert isinstance(unreadable, OSError)
    assert isinstance(unreadable, UserError)
    assert isinstance(output, OSError)
    assert not isinstance(output, UserError)  # a full disk is no bad input
    assert (output.filename, output.strerror) == ("/plein/lettre.odt", "No space left on device")


def test_messages_are_one_french_line_without_a_dangling_colon() -> None:
    for error in SAMPLES.values():
        text = str(error)
        assert text, type(error).__name__
        assert "\n" not in text, type(error).__name__
        assert not text.rstrip().endswith(":"), text
    assert str(UnreadableFile.of("/x.json", FileNotFoundError(2, "No such file"))) == (
        "lecture impossible de /x.json : fichier introuvable"
    )


@pytest.mark.parametrize("action", ["edit", "approve", "export", "sign", "journal", "verify"])
def test_a_draft_that_no_longer_matches_its_record_is_always_a_verification_error(
    action: str, tmp_path: Path
) -> None:
    from courrier.signing import generate_key_pair, load_private_key, sign_draft

    request = LetterRequest.from_json(
        (ROOT / "examples" / "requests" / "reponse-reclamation.json").read_text()
    )
    draft = Drafter(library=shipped_library()).draft(request)
    record = draft.provenance.model_copy(update={"organisation": "Mairie de Port-Aurore"})
    tampered = draft.model_copy(update={"provenance": record})
    generate_key_pair(tmp_path / "k.pem", tmp_path / "k.pub")
    actions: dict[str, Callable[[], object]] = {
        "edit": lambda: tampered.edit("signature", "Camille Martin, la maire", author="A"),
        "approve": lambda: tampered.approve(by="Camille Martin", role="La maire"),
        "export": lambda: courrier.export_document(tampered, "text"),
        "sign": lambda: sign_draft(tampered, load_private_key(tmp_path / "k.pem")),
        "journal": lambda: courrier.Journal(tmp_path / "j.sqlite3").record(tampered),
        "verify": lambda: courrier.verify(tampered),
    }
    with pytest.raises(VerificationError, match="sceau"):
        actions[action]()


def test_a_request_read_from_json_names_its_file() -> None:
    with pytest.raises(InvalidRequest) as caught:
        LetterRequest.from_json('{"template": "x"}', source="demande.json")
    assert caught.value.source == "demande.json"
    assert {"sender", "recipient"} <= set(caught.value.paths)
    assert str(caught.value).startswith("demande.json : ")
    with pytest.raises(InvalidRequest, match="JSON invalide"):
        LetterRequest.from_json("{", source="demande.json")
