"""The journal: an append-only SQLite history of drafts, edits and approvals, one row per version.

Each row stores a version's provenance record (facts appear there only as hashes), its canonical JSON
and its hash, so that the rows of one draft carry the record hash chain. `Journal.record` refuses any
event that would break the chain; `Journal.verify` checks the chain again from the stored bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._canonical import canonical_json, sha256_hex
from ._draft import Draft
from ._files import reason_of
from ._validation import FrozenModel
from .errors import InvalidJournal, JournalError
from .record import Change, ProvenanceRecord

__all__ = ["Journal", "JournalEvent", "default_journal_path"]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x636F7572  # "cour" in ASCII: SQLite's file-format tag for a courrier journal
BUSY_TIMEOUT_S = 5.0

_SCHEMA = (
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        draft_id TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        change TEXT NOT NULL CHECK (change IN ('drafted', 'edited', 'approved')),
        at TEXT NOT NULL,
        actor TEXT,
        template_id TEXT NOT NULL,
        record_sha256 TEXT NOT NULL UNIQUE,
        previous_sha256 TEXT,
        record_json TEXT NOT NULL,
        UNIQUE (draft_id, version)
    )
    """,
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'journal en ajout seul : modification interdite'); END",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'journal en ajout seul : suppression interdite'); END",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


class JournalEvent(FrozenModel):
    """One journaled version of a draft: its provenance record (canonical JSON), hash, and who made it."""

    seq: int
    draft_id: str
    version: int
    change: Change
    at: dt.datetime
    actor: str | None
    template_id: str
    record_sha256: str
    previous_sha256: str | None
    record_json: str


# The queries name the event's fields, constants all: no value is ever formatted into SQL.
_FIELDS = tuple(JournalEvent.model_fields)
_SELECT = f"SELECT {', '.join(_FIELDS)} FROM events"  # noqa: S608
_COLUMNS = _FIELDS[1:]  # seq aside, which SQLite assigns
_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES (:{', :'.join(_COLUMNS)})"  # noqa: S608


def default_journal_path() -> Path:
    """`$COURRIER_JOURNAL` if set, else `$XDG_STATE_HOME/courrier/journal.sqlite3`.

    `XDG_STATE_HOME` defaults to `~/.local/state`; a relative value is ignored, as the XDG spec says.
    """
    explicit = os.environ.get("COURRIER_JOURNAL")
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "courrier" / "journal.sqlite3"


class Journal:
    """An append-only journal of draft versions in an SQLite file (WAL mode, synchronous=FULL).

    Use one instance per thread. Instances in several threads or processes may share a file: each
    append checks the chain and writes in one `BEGIN IMMEDIATE` transaction, so appends are serialized.
    Every SQLite failure is raised as `JournalError`.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        """Open the journal at `path`, creating the file, its parent folders and its tables if absent.

        With `read_only=True` (a command that only reads, an auditor without write access), nothing is
        created or written: a missing file raises `InvalidJournal`, as does a folder, a file that is
        not SQLite, or another program's database; `record` fails.
        """
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise self._invalid("c'est un dossier, pas un fichier de journal")
        if self.path.exists() and not self.path.is_file():  # a FIFO, a device: SQLite would fail or wait
            raise self._invalid("ce n'est pas un fichier ordinaire")
        if read_only and not self.path.exists():
            raise self._invalid("journal introuvable")
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise self._error(
                    f"impossible de créer le dossier {self.path.parent} : {reason_of(error)}"
                ) from error
        with self._sqlite_errors():
            connection = self._connect(read_only)
            try:
                self._prepare(connection, read_only=read_only)
            except BaseException:
                connection.close()
                raise
        self._connection = connection

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        if not read_only:
            return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=True)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as error:
            if _error_name(error) != "SQLITE_CANTOPEN":
                raise
            # A journal in WAL mode on read-only media: SQLite cannot make its shared-memory file
            # there, and nothing can write to the media either, so read it as immutable.
            connection.close()
            connection = sqlite3.connect(f"{uri}&immutable=1", isolation_level=None, uri=True)
        return connection

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file; later calls raise `JournalError`. Closing twice is harmless."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with self._sqlite_errors():
                connection.close()

    def record(self, draft: Draft) -> JournalEvent:
        """Append the event of this version of `draft` (its provenance record, not its facts); return it.

        Refused with `VerificationError` when the draft does not match its record and seal, and with
        `JournalError` when the version is not
        the next link of the draft's chain: a skipped version, a fork or a replay. Recording the very
        same version again returns the stored event, so that a retry after a crash is safe.
        """
        record = draft.provenance
        where = f"brouillon {record.draft_id} version {record.version}"
        draft.require_intact()
        record_json = canonical_json(record).decode()
        row = self._row(record, record_json)
        connection = self._open()
        with self._sqlite_errors(), _immediate(connection):
            same = connection.execute(
                f"{_SELECT} WHERE record_sha256 = ?", (row["record_sha256"],)
            ).fetchone()
            if same is not None:
                return self._stored(same)
            last = connection.execute(
                "SELECT version, record_sha256 FROM events WHERE draft_id = ? ORDER BY version DESC LIMIT 1",
                (record.draft_id,),
            ).fetchone()
            expected_version, expected_previous = (1, None) if last is None else (last[0] + 1, last[1])
            if record.version < expected_version:
                raise self._error(
                    f"{where} : cette version est déjà journalisée avec un autre enregistrement"
                    " (bifurcation ou rejeu)"
                )
            if record.version > expected_version:
                raise self._error(f"{where} : version sautée, la version attendue est {expected_version}")
            if record.previous_sha256 != expected_previous:
                raise self._error(
                    f"{where} : la version précédente qu'il désigne n'est pas la dernière journalisée"
                    " (bifurcation ou rejeu)"
                )
            seq = connection.execute(_INSERT, row).lastrowid
        return self._event({"seq": seq, **row})

    def history(self, draft_id: str) -> list[JournalEvent]:
        """The events of one draft in version order; an empty list for a draft the journal lacks."""
        connection = self._open()
        with self._sqlite_errors():
            rows = connection.execute(
                f"{_SELECT} WHERE draft_id = ? ORDER BY version", (draft_id,)
            ).fetchall()
        return [self._stored(row) for row in rows]

    def record_chain(self, draft_id: str) -> list[str]:
        """The record hashes of the draft's versions 1..n once `verify` has checked their chain; empty
        for a draft the journal lacks. This is what `courrier.verify(journal=)` asks of the journal."""
        self.verify(draft_id)
        return [event.record_sha256 for event in self.history(draft_id)]

    def verify(self, draft_id: str | None = None) -> int:
        """Check the stored chain of one draft, or of every draft; return the number of events checked.

        Each stored record must hash to its `record_sha256` and agree with its event's columns; each
        draft's versions must run 1..n, version 1 naming no previous version and every later one the
        hash of the one before. The first break raises `JournalError` naming the draft and version.
        """
        connection = self._open()
        query, parameters = (
            (f"{_SELECT} ORDER BY draft_id, version", ())
            if draft_id is None
            else (f"{_SELECT} WHERE draft_id = ? ORDER BY version", (draft_id,))
        )
        checked = 0
        current: str | None = None
        expected_version, expected_previous = 1, None
        with self._sqlite_errors(), closing(connection.execute(query, parameters)) as cursor:
            for row in cursor:
                event = self._stored(row)
                if event.draft_id != current:
                    current, expected_version, expected_previous = event.draft_id, 1, None
                self._check_stored(event, expected_version, expected_previous)
                expected_version, expected_previous = event.version + 1, event.record_sha256
                checked += 1
        return checked

    def _check_stored(
        self, event: JournalEvent, expected_version: int, expected_previous: str | None
    ) -> None:
        where = f"brouillon {event.draft_id} version {event.version}"
        if sha256_hex(event.record_json.encode()) != event.record_sha256:
            raise self._error(f"{where} : l'enregistrement stocké ne correspond plus à son empreinte")
        try:
            record = ProvenanceRecord.model_validate_json(event.record_json)
        except ValidationError as error:
            raise self._error(f"{where} : enregistrement illisible") from error
        if self._event({"seq": event.seq, **self._row(record, event.record_json)}) != event:
            raise self._error(
                f"{where} : les colonnes de l'événement ne correspondent pas à son enregistrement"
            )
        if event.version != expected_version:
            raise self._error(
                f"brouillon {event.draft_id} : version {expected_version} manquante"
                f" (version {event.version} trouvée à sa place)"
            )
        if event.previous_sha256 != expected_previous:
            raise self._error(
                f"{where} : chaînage rompu, la version précédente désignée n'est pas celle du journal"
            )

    def _row(self, record: ProvenanceRecord, record_json: str) -> dict[str, Any]:
        """The columns of a record's event, seq aside."""
        return {
            "draft_id": record.draft_id,
            "version": record.version,
            "change": record.change,
            "at": record.created_at.isoformat(),
            "actor": self._actor(record),
            "template_id": record.template.id,
            "record_sha256": sha256_hex(record_json.encode()),
            "previous_sha256": record.previous_sha256,
            "record_json": record_json,
        }

    def _actor(self, record: ProvenanceRecord) -> str | None:
        """Who made this version: nobody for a drafted one, the edit's author, or the approver."""
        if record.change == "drafted":
            return None
        if record.change == "edited" and record.edits and record.edits[-1].version == record.version:
            return record.edits[-1].author
        if record.change == "approved" and record.approval and record.approval.version == record.version:
            return record.approval.by
        raise self._error(
            f"brouillon {record.draft_id} version {record.version} :"
            f" l'enregistrement « {record.change} » ne nomme pas son auteur"
        )

    def _stored(self, row: tuple[Any, ...]) -> JournalEvent:
        return self._event(dict(zip(_FIELDS, row, strict=True)))

    def _event(self, values: dict[str, Any]) -> JournalEvent:
        try:
            return JournalEvent.model_validate(values)
        except ValidationError as error:
            raise self._error(f"événement {values['seq']} illisible") from error

    def _prepare(self, connection: sqlite3.Connection, *, read_only: bool) -> None:
        """Check that the file is a courrier journal; unless read only, create the schema in an empty
        one and enable WAL."""
        if self._is_empty(connection):
            if read_only:
                raise self._invalid("journal vide : ce fichier n'est pas un journal courrier")
            with _immediate(connection):
                if self._is_empty(connection):
                    for statement in _SCHEMA:
                        connection.execute(statement)
        if read_only:
            return
        mode = _enable_wal(connection)
        if mode != "wal":
            raise self._error(f"impossible de passer le journal en mode WAL (mode obtenu : {mode})")
        connection.execute("PRAGMA synchronous = FULL")

    def _is_empty(self, connection: sqlite3.Connection) -> bool:
        """True for an empty database; False for a courrier journal; `InvalidJournal` for anything else."""
        # One statement, so one snapshot: another connection may be creating the schema meanwhile.
        application_id, user_version, tables = connection.execute(
            "SELECT (SELECT application_id FROM pragma_application_id),"
            " (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)"
        ).fetchone()
        if application_id == 0 and user_version == 0 and tables == 0:
            return True
        if application_id != APPLICATION_ID:
            raise self._invalid(
                "ce fichier n'est pas un journal courrier (base SQLite d'une autre application)"
            )
        if user_version != SCHEMA_VERSION:
            raise self._invalid(
                f"schéma de journal en version {user_version}, non pris en charge (version attendue :"
                f" {SCHEMA_VERSION})"
            )
        return False

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise self._error("journal fermé")
        return self._connection

    def _error(self, reason: str) -> JournalError:
        return JournalError(str(self.path), reason)

    def _invalid(self, reason: str) -> InvalidJournal:
        """The file is not a courrier journal: the caller named the wrong file."""
        return InvalidJournal(str(self.path), reason)

    @contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            if _error_name(error) == "SQLITE_NOTADB":
                raise self._invalid(_reason(error)) from error
            raise self._error(_reason(error)) from error


def _reason(error: sqlite3.Error) -> str:
    """A French reason for an SQLite failure."""
    name = _error_name(error)
    if name == "SQLITE_NOTADB":
        return "ce fichier n'est pas un journal courrier (ce n'est pas une base SQLite)"
    if name == "SQLITE_BUSY":
        return f"journal occupé par une autre connexion depuis plus de {BUSY_TIMEOUT_S:g} s"
    if name is not None and name.startswith("SQLITE_CORRUPT"):
        return f"journal endommagé : {error}"
    if name is not None and name.startswith("SQLITE_READONLY"):
        return "journal en lecture seule : aucune inscription possible"
    if name is not None and name.startswith("SQLITE_CANTOPEN"):
        return "impossible d'ouvrir le journal (droits, support ou dossier)"
    return f"erreur SQLite : {error}"


def _error_name(error: sqlite3.Error) -> str | None:
    """SQLite's name for the error ("SQLITE_BUSY"...); None for errors raised by the sqlite3 module itself."""
    return getattr(error, "sqlite_errorname", None)


def _enable_wal(connection: sqlite3.Connection) -> str:
    """Switch to WAL mode and return the mode set, retrying while other connections hold the file.

    SQLite does not wait on its busy handler for this switch, which needs the file to itself: two
    connections opening a new journal together would otherwise fail at once.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as error:
            if _error_name(error) != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


@contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
    """One `BEGIN IMMEDIATE` transaction: the write lock is taken before the first read."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
