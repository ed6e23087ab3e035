"""The public API: `courrier.__all__` holds exactly the top level's public names, the README lists them,
and the names moved to submodules are still found, with a warning."""

from __future__ import annotations

import re
import types

import pytest

import courrier

from .conftest import ROOT


def test_all_matches_the_documented_api() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Public API", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^- `([A-Za-z_]+)`", section, flags=re.MULTILINE)
    assert sorted(documented) == sorted(courrier.__all__)


def test_all_is_exactly_the_public_names_of_the_top_level() -> None:
    public = {
        name
        for name in dir(courrier)
        if not name.startswith("_") and not isinstance(getattr(courrier, name), types.ModuleType)
    }
    assert public == set(courrier.__all__) - {"__version__"}
    assert len(courrier.__all__) <= 45


def test_the_top_level_names_say_they_are_courrier_s() -> None:
    for name in courrier.__all__:
        value = getattr(courrier, name)
        if isinstance(value, type):  # the local model, imported on first use, keeps its home
            assert value.__module__ == ("courrier.model" if name == "LocalChatModel" else "courrier"), name
    assert repr(courrier.Drafter) == "<class 'courrier.Drafter'>"
    assert courrier.export_document.__module__ == "courrier"


def test_errors_share_one_root() -> None:
    for name in courrier.__all__:
        item = getattr(courrier, name)
        if isinstance(item, type) and issubclass(item, Exception):
            assert issubclass(item, courrier.CourrierError), name


@pytest.mark.parametrize("name", sorted(courrier._MOVED))
def test_a_moved_name_is_still_found_with_a_warning(name: str) -> None:
    module = __import__(courrier._MOVED[name], fromlist=[name])
    with pytest.warns(DeprecationWarning, match=courrier._MOVED[name]):
        assert getattr(courrier, name) is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        courrier.Nothing  # noqa: B018
