"""The journal: the hash chain, refusals, append-only triggers, crash safety and concurrent writers."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from courrier import Draft, Drafter, Journal, JournalError, LetterRequest, VerificationError
from courrier.journal import APPLICATION_ID, JournalEvent, default_journal_path
from courrier.record import ProvenanceRecord, canonical_json, sha256_hex

from .conftest import ROOT

REQUEST = ROOT / "examples" / "requests" / "decision-defavorable.json"
CONTACT = "Nos services restent à votre disposition pour toute question sur ce courrier."
OTHER_CONTACT = "Pour toute question, appelez le service en rappelant la référence de ce courrier."

# Appends a draft then edit after edit, writing each version to a file before recording it.
CHILD = """
import sys
from pathlib import Path
from courrier import Drafter, Journal, LetterRequest

request, journal_path, versions_path = sys.argv[1:]
draft = Drafter(llm=None).draft(LetterRequest.from_json(Path(request).read_text()))
texts = ("Premier texte de contact, version paire.", "Second texte de contact, version impaire.")
with Journal(journal_path) as journal, open(versions_path, "w", encoding="utf-8") as versions:
    for n in range(10_000):
        if n:
            draft = draft.edit("contact", texts[n % 2], author="Agent A")
        versions.write(draft.to_json(indent=None) + "\\n")
        versions.flush()
        journal.record(draft)
"""


@pytest.fixture(scope="module")
def drafter() -> Drafter:
    return Drafter(llm=None)


@pytest.fixture
def letter_request() -> LetterRequest:
    return LetterRequest.model_validate_json(REQUEST.read_text())


@pytest.fixture
def draft(drafter: Drafter, letter_request: LetterRequest) -> Draft:
    return drafter.draft(letter_request)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


def chain(draft: Draft) -> list[Draft]:
    edited = draft.edit("contact", CONTACT, author="Agent A", reason="ton")
    approved = edited.approve(by="Claire Martin", role="Directrice générale des services")
    return [draft, edited, approved]


def edits(draft: Draft, count: int) -> list[Draft]:
    versions = [draft]
    for n in range(count):
        versions.append(versions[-1].edit("contact", (CONTACT, OTHER_CONTACT)[n % 2], author="Agent A"))
    return versions


def test_draft_edit_approve_form_a_linked_history(tmp_path: Path, draft: Draft) -> None:
    versions = chain(draft)
    path = tmp_path / "etat" / "courrier" / "journal.sqlite3"
    with Journal(path) as journal:
        events = [journal.record(version) for version in versions]
        history = journal.history(draft.id)
        assert history == events
        assert [e.version for e in history] == [1, 2, 3]
        assert [e.change for e in history] == ["drafted", "edited", "approved"]
        assert [e.actor for e in history] == [None, "Agent A", "Claire Martin"]
        assert [e.record_sha256 for e in history] == [v.sha256 for v in versions]
        assert [e.previous_sha256 for e in history] == [None, versions[0].sha256, versions[1].sha256]
        assert [e.at for e in history] == [v.provenance.created_at for v in versions]
        assert {e.template_id for e in history} == {"decision-defavorable"}
        assert history[0].seq < history[1].seq < history[2].seq
        assert journal.verify() == journal.verify(draft.id) == 3
        assert journal.history("inconnu") == []
        assert journal.verify("inconnu") == 0
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    raw.close()


def test_events_store_the_record_and_no_fact(path: Path, draft: Draft, letter_request: LetterRequest) -> None:
    versions = chain(draft)
    with Journal(path) as journal:
        for version in versions:
            journal.record(version)
        history = journal.history(draft.id)
    for event, version in zip(history, versions, strict=True):
        assert sha256_hex(event.record_json.encode()) == event.record_sha256
        assert event.record_json.encode() == canonical_json(version.provenance)
        assert ProvenanceRecord.model_validate_json(event.record_json) == version.provenance
    stored = b"".join(file.read_bytes() for file in path.parent.glob(path.name + "*"))
    assert draft.id.encode() in stored
    facts = letter_request.facts
    for text in (facts["motifs_fait"], facts["objet_demande"], letter_request.recipient.name, CONTACT):
        assert text.encode() not in stored


def test_a_fork_or_a_replay_is_refused(path: Path, draft: Draft) -> None:
    edited = draft.edit("contact", CONTACT, author="Agent A")
    fork = draft.edit("contact", OTHER_CONTACT, author="Agent B")
    with Journal(path) as journal:
        journal.record(draft)
        journal.record(edited)
        with pytest.raises(JournalError, match="bifurcation") as refused:
            journal.record(fork)
        assert refused.value.path == str(path)
        assert f"brouillon {draft.id} version 2" in str(refused.value)
        # The right version number, but it names a version the journal does not hold.
        with pytest.raises(JournalError, match="bifurcation ou rejeu"):
            journal.record(fork.edit("contact", CONTACT, author="Agent B"))
        assert [e.record_sha256 for e in journal.history(draft.id)] == [draft.sha256, edited.sha256]


def test_a_skipped_version_is_refused(path: Path, draft: Draft) -> None:
    _, second, third = edits(draft, 2)
    with Journal(path) as journal:
        with pytest.raises(JournalError, match="version sautée, la version attendue est 1"):
            journal.record(second)
        journal.record(draft)
        with pytest.raises(JournalError, match="version sautée, la version attendue est 2"):
            journal.record(third)
        assert journal.verify() == 1


def test_a_tampered_record_is_refused(path: Path, draft: Draft) -> None:
    first, *rest = draft.provenance.paragraphs
    record = draft.provenance.model_copy(
        update={"paragraphs": (first.model_copy(update={"text_sha256": "0" * 64}), *rest)}
    )
    tampered = draft.model_copy(update={"provenance": record})
    with Journal(path) as journal:
        with pytest.raises(VerificationError, match="sceau"):
            journal.record(tampered)
        with pytest.raises(VerificationError, match="identifiant du brouillon"):
            journal.record(draft.model_copy(update={"id": "un-autre-brouillon"}))
        assert journal.verify() == 0


def test_recording_the_same_version_twice_is_idempotent(path: Path, draft: Draft) -> None:
    with Journal(path) as journal:
        first = journal.record(draft)
        assert journal.record(draft) == first
    with Journal(path) as reopened:
        assert reopened.record(draft) == first
        assert reopened.history(draft.id) == [first]


def test_update_and_delete_are_refused_by_triggers(path: Path, draft: Draft) -> None:
    with Journal(path) as journal:
        for version in chain(draft):
            journal.record(version)
    raw = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="modification interdite"):
        raw.execute("UPDATE events SET actor = 'Quelqu''un'")
    with pytest.raises(sqlite3.IntegrityError, match="suppression interdite"):
        raw.execute("DELETE FROM events")
    raw.close()
    with Journal(path) as journal:
        assert journal.verify() == 3


@pytest.mark.parametrize(
    ("trigger", "tampering", "reason"),
    [
        (
            "events_no_update",
            "UPDATE events SET record_json = replace(record_json, 'Agent A', 'Agent Z') WHERE version = 2",
            "version 2 : l'enregistrement stocké ne correspond plus à son empreinte",
        ),
        (
            "events_no_update",
            "UPDATE events SET actor = 'Agent Z' WHERE version = 2",
            "version 2 : les colonnes de l'événement ne correspondent pas",
        ),
        ("events_no_delete", "DELETE FROM events WHERE version = 2", "version 2 manquante"),
    ],
)
def test_verify_names_the_draft_and_version_where_a_bypass_broke_the_chain(
    path: Path, draft: Draft, trigger: str, tampering: str, reason: str
) -> None:
    with Journal(path) as journal:
        for version in chain(draft):
            journal.record(version)
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute(f"DROP TRIGGER {trigger}")
        assert raw.execute(tampering).rowcount == 1
        raw.close()
        with pytest.raises(JournalError, match=reason) as broken:
            journal.verify()
        assert f"brouillon {draft.id}" in str(broken.value)
        with pytest.raises(JournalError, match=reason):
            journal.verify(draft.id)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_writer_killed_midway_loses_no_committed_event(tmp_path: Path, path: Path) -> None:
    versions_path = tmp_path / "versions.jsonl"
    Journal(path).close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REQUEST), str(path), str(versions_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        raw = sqlite3.connect(path, isolation_level=None)
        deadline = time.monotonic() + 120
        while raw.execute("SELECT count(*) FROM events").fetchone()[0] < 30:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "le processus n'a pas écrit 30 événements en 120 s"
            time.sleep(0.01)
        raw.close()
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()
    # Each version was written to the file before being recorded: the file holds every journaled one.
    written = {
        version.version: version
        for version in map(Draft.from_json, versions_path.read_text(encoding="utf-8").split("\n")[:-1])
    }
    with Journal(path) as journal:
        count = journal.verify()
        assert count >= 30
        history = journal.history(written[1].id)
        assert [e.version for e in history] == list(range(1, count + 1))
        assert [e.record_sha256 for e in history] == [written[v].sha256 for v in range(1, count + 1)]
        last = written[count]
    with Journal(path) as reopened:
        event = reopened.record(last.edit("contact", CONTACT, author="Agent B"))
        assert (event.version, event.previous_sha256) == (count + 1, last.sha256)
        assert reopened.verify() == count + 1


def test_a_file_of_random_bytes_is_not_a_journal(path: Path) -> None:
    path.write_bytes(b"\x00courrier?\xff" * 400)
    with pytest.raises(JournalError, match="pas une base SQLite") as refused:
        Journal(path)
    assert refused.value.path == str(path)


def test_an_sqlite_database_of_another_application_is_not_a_journal_and_is_left_alone(path: Path) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT)")
    raw.close()
    with pytest.raises(JournalError, match="autre application"):
        Journal(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert raw.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 1
    raw.close()


def test_a_journal_of_another_schema_version_is_refused(path: Path) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    raw.execute("PRAGMA user_version = 2")
    raw.close()
    with pytest.raises(JournalError, match="version 2, non pris en charge"):
        Journal(path)


def test_a_closed_journal_refuses_calls(path: Path, draft: Draft) -> None:
    journal = Journal(path)
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="journal fermé"):
        journal.record(draft)
    with pytest.raises(JournalError, match="journal fermé"):
        journal.history(draft.id)


def test_threads_with_their_own_journal_append_concurrently(
    path: Path, drafter: Drafter, letter_request: LetterRequest
) -> None:
    chains = [edits(drafter.draft(letter_request), 20) for _ in range(4)]
    start = threading.Barrier(len(chains))

    def append(versions: list[Draft]) -> list[JournalEvent]:
        start.wait(timeout=60)
        with Journal(path) as journal:
            return [journal.record(version) for version in versions]

    with ThreadPoolExecutor(len(chains)) as pool:
        recorded = list(pool.map(append, chains))
    with Journal(path) as journal:
        assert journal.verify() == 4 * 21
        for versions, events in zip(chains, recorded, strict=True):
            assert journal.history(versions[0].id) == events
            assert [e.record_sha256 for e in events] == [v.sha256 for v in versions]
        seqs = sorted(e.seq for events in recorded for e in events)
        assert seqs == list(range(seqs[0], seqs[0] + 4 * 21))


def test_racing_forks_of_one_draft_leave_exactly_one(path: Path, draft: Draft) -> None:
    forks = [draft.edit("contact", f"{CONTACT} Variante {n}.", author=f"Agent {n}") for n in range(4)]
    with Journal(path) as journal:
        journal.record(draft)
    start = threading.Barrier(len(forks))

    def append(fork: Draft) -> str:
        start.wait(timeout=60)
        with Journal(path) as journal:
            try:
                journal.record(fork)
            except JournalError:
                return "refused"
            return "recorded"

    with ThreadPoolExecutor(len(forks)) as pool:
        outcomes = sorted(pool.map(append, forks))
    assert outcomes == ["recorded", "refused", "refused", "refused"]
    with Journal(path) as journal:
        assert journal.verify() == 2


def test_default_journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COURRIER_JOURNAL", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_journal_path() == tmp_path / ".local" / "state" / "courrier" / "journal.sqlite3"
    monkeypatch.setenv("XDG_STATE_HOME", "relatif/ignoré")
    assert default_journal_path() == tmp_path / ".local" / "state" / "courrier" / "journal.sqlite3"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "etat"))
    assert default_journal_path() == tmp_path / "etat" / "courrier" / "journal.sqlite3"
    monkeypatch.setenv("COURRIER_JOURNAL", str(tmp_path / "ailleurs.sqlite3"))
    assert default_journal_path() == tmp_path / "ailleurs.sqlite3"
