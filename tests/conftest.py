from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from courrier import LetterRequest, TemplateLibrary

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_REQUESTS = sorted((ROOT / "examples" / "requests").glob("*.json"))
SHIPPED = ROOT / "templates"


@pytest.fixture(autouse=True)
def _journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write to the user's journal: `courrier draft` journals into the test's folder."""
    monkeypatch.setenv("COURRIER_JOURNAL", str(tmp_path / "journal.sqlite3"))


@functools.cache
def shipped_library() -> TemplateLibrary:
    """The shipped templates, loaded once for the run (a load takes a fifth of a second; a loaded
    library is only read): for the tests that draft many letters, outside a fixture too."""
    return TemplateLibrary.default()


@pytest.fixture(scope="session")
def library() -> TemplateLibrary:
    return shipped_library()


@pytest.fixture
def sample_request() -> LetterRequest:
    return LetterRequest.model_validate_json(
        (ROOT / "examples" / "requests" / "accuse-reception-acceptation.json").read_text()
    )


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    """A writable copy of the shared layout and partials plus one shipped template."""
    root = tmp_path / "modeles"
    for part in ("_layout", "_partials", "accuse-reception-acceptation"):
        shutil.copytree(SHIPPED / part, root / part)
    return root
