"""The public API is `courrier.__all__`, and the README documents exactly that."""

from __future__ import annotations

import re

import courrier

from .conftest import ROOT


def test_all_matches_the_documented_api() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Public API", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^- `([A-Za-z_]+)`", section, flags=re.MULTILINE))
    assert documented == set(courrier.__all__)


def test_every_public_name_exists() -> None:
    for name in courrier.__all__:
        assert hasattr(courrier, name), name


def test_errors_share_one_root_and_builtin_parents() -> None:
    assert issubclass(courrier.TemplateNotFound, LookupError)
    assert issubclass(courrier.InvalidRequest, ValueError)
    assert issubclass(courrier.LibraryNotFound, FileNotFoundError)
    for name in courrier.__all__:
        item = getattr(courrier, name)
        if isinstance(item, type) and issubclass(item, Exception):
            assert issubclass(item, courrier.CourrierError), name
