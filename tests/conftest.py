from __future__ import annotations

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


@pytest.fixture(scope="session")
def library() -> TemplateLibrary:
    return TemplateLibrary.default()


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
