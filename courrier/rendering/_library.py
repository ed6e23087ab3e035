"""The vetted template library: manifests, sandboxed strict Jinja2 rendering, structure checks, hashes."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, meta, nodes
from jinja2 import TemplateError as JinjaError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ValidationError

from .._canonical import sha256_hex
from .._request import LetterRequest
from .._validation import problems_from
from ..errors import (
    FieldProblem,
    InvalidRequest,
    LibraryNotFound,
    RenderLimitExceeded,
    TemplateDefect,
    TemplateNotFound,
)
from ..french import FILTERS
from ..record import SectionMode
from ._manifest import (
    BODY_SLOT,
    DISCLOSURE_FILE,
    LAYOUT_AFTER_BODY,
    LAYOUT_BEFORE_BODY,
    LAYOUT_BLOCKS,
    LAYOUT_FILE,
    OBJECT_SLOT,
    RESERVED_NAMES,
    Manifest,
    SectionSpec,
    build_facts_model,
)

__all__ = [
    "MAX_LETTER_CHARS",
    "RenderedSection",
    "Template",
    "TemplateLibrary",
    "open_library",
    "shipped_templates_dir",
    "template_dirs",
]

MAX_LETTER_CHARS = 100_000
"""Upper bound on the text of one letter; rendering stops with `RenderLimitExceeded` past it."""

MANIFEST_FILE = "template.toml"


def shipped_templates_dir() -> Path:
    """Where the vetted templates shipped with courrier live: in the wheel, or in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


class _SizeBoundExceeded(SecurityError):
    """A template expression would build a value larger than a letter may be."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with repetition and power bounded so that no expression can blow up."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(count, int)
                    and len(sequence) * count > MAX_LETTER_CHARS
                ):
                    raise _SizeBoundExceeded("répétition trop grande")
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise _SizeBoundExceeded("exposant trop grand")
        return super().call_binop(context, operator, left, right)


def _refuse_none(value: Any) -> Any:
    """Printing `None` is a template bug (an optional fact used without `{% if %}`): fail loudly."""
    if value is None:
        raise TypeError("valeur absente (None) imprimée : protéger le champ facultatif par {% if %}")
    return value


def _environment(root: Path) -> _Sandbox:
    environment = _Sandbox(
        finalize=_refuse_none,
        loader=FileSystemLoader(root),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        auto_reload=False,
    )
    environment.filters.update(FILTERS)
    return environment


def _parsed(environment: _Sandbox, name: str) -> nodes.Template:
    """The syntax tree of a library file; `OSError` or a Jinja error if it cannot be read or parsed."""
    assert environment.loader is not None, "every sandbox is built with its library's loader"
    source, _, _ = environment.loader.get_source(environment, name)
    return environment.parse(source, name)


@dataclass(frozen=True)
class RenderedSection:
    """The vetted text of one section, rendered from the request."""

    section: str
    mode: SectionMode
    text: str


def _blocks(node: nodes.Node) -> list[nodes.Block]:
    """The blocks directly under `node`, in source order (not those nested in them)."""
    found: list[nodes.Block] = []
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            found.append(child)
        else:
            found.extend(_blocks(child))
    return found


class Template:
    """One vetted letter template: its manifest, compiled source, facts model and content hash.

    Build it through `TemplateLibrary`; a `Template` that exists has passed every structure check.
    """

    def __init__(self, directory: Path, environment: _Sandbox) -> None:
        self.directory = directory
        self._environment = environment
        self.manifest = _read_manifest(directory)
        self._source_name = f"{directory.name}/{self.manifest.source}"
        files, problems = self._check_structure()
        if problems:
            raise TemplateDefect(self.manifest.id, problems)
        self.sha256 = _sources_hash(environment, files)
        self.facts_model: type[BaseModel] = build_facts_model(self.manifest)
        self._compiled = environment.get_template(self._source_name)
        self._layout = environment.get_template(LAYOUT_FILE)
        self._disclosure = environment.get_template(DISCLOSURE_FILE)
        body = [(s.id, s.mode) for s in self.manifest.sections]
        layout = [(name, "locked") for name in LAYOUT_BEFORE_BODY]
        tail = [(name, "locked") for name in LAYOUT_AFTER_BODY]
        self.section_plan: tuple[tuple[str, SectionMode], ...] = (*layout, *body, *tail)  # type: ignore[arg-type]

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def title(self) -> str:
        return self.manifest.title

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def sections(self) -> tuple[SectionSpec, ...]:
        """The body sections declared in the manifest, in letter order."""
        return self.manifest.sections

    def fields_schema(self) -> dict[str, Any]:
        """The JSON Schema of this template's facts."""
        return self.facts_model.model_json_schema()

    def validate_facts(self, facts: Mapping[str, Any], *, source: str | None = None) -> BaseModel:
        """Validate facts against the field schema; `InvalidRequest` names each field at fault, and
        `source`, the file the facts came from."""
        try:
            validated = self.facts_model.model_validate(dict(facts))
        except ValidationError as error:
            raise InvalidRequest(problems_from(error, prefix="facts"), source=source) from error
        problems = [
            FieldProblem(
                f"facts.{spec.name}", f"obligatoire quand {other} vaut {getattr(validated, other)!r}"
            )
            for spec in self.manifest.fields
            for other, values in (spec.required_when or {}).items()
            if getattr(validated, spec.name) is None and getattr(validated, other) in values
        ]
        if problems:
            raise InvalidRequest(problems, source=source)
        return validated

    @staticmethod
    def variables(request: LetterRequest, facts: BaseModel) -> dict[str, Any]:
        """What the template source sees: the facts, and the layout's names (`RESERVED_NAMES`)."""
        if request.date is None:
            raise ValueError("a template renders a request whose date is set")
        return {
            **facts.model_dump(),
            "sender": request.sender.model_dump(),
            "recipient": request.recipient.model_dump(),
            "letter_date": request.date,
            "references": request.references.model_dump(),
            "attachments": list(request.attachments),
        }

    def render(self, request: LetterRequest, facts: BaseModel) -> list[RenderedSection]:
        """Render every section's vetted text, in letter order; sections that render empty are left out."""
        context = self._compiled.new_context(self.variables(request, facts))
        for name, block in self._layout.blocks.items():
            context.blocks.setdefault(name, []).append(block)
        budget = MAX_LETTER_CHARS
        rendered = []
        for section, mode in self.section_plan:
            text = self._render_block(context, section, budget)
            budget -= len(text)
            if text:
                rendered.append(RenderedSection(section, mode, text))
        return rendered

    def render_disclosure(self, request: LetterRequest, *, model_name: str, local: bool) -> str:
        """The vetted notice that a model drafted part of this letter (see `DISCLOSURE_FILE`)."""
        try:
            text = self._disclosure.render(
                sender=request.sender.model_dump(), model_name=model_name, local=local
            )
        except (JinjaError, TypeError, ValueError) as error:
            raise TemplateDefect(DISCLOSURE_FILE, [str(error)]) from error
        return text.strip()

    def _render_block(self, context: Context, name: str, budget: int) -> str:
        chunks = []
        try:
            for chunk in context.blocks[name][0](context):
                budget -= len(chunk)
                if budget < 0:
                    raise RenderLimitExceeded(self.id, MAX_LETTER_CHARS)
                chunks.append(chunk)
        except _SizeBoundExceeded as error:
            raise RenderLimitExceeded(self.id, MAX_LETTER_CHARS) from error
        except (JinjaError, TypeError, ValueError) as error:
            raise TemplateDefect(self.id, [f"section {name} : {error}"]) from error
        return "".join(chunks).strip()

    def _check_structure(self) -> tuple[list[str], list[str]]:
        """Check the source against the manifest; return the files it uses and the problems found."""
        problems: list[str] = []
        try:
            tree = _parsed(self._environment, self._source_name)
        except (OSError, JinjaError) as error:
            return [], [f"source {self.manifest.source} illisible : {error}"]
        body = tree.body
        if not body or not isinstance(body[0], nodes.Extends) or body[0].template.as_const() != LAYOUT_FILE:
            problems.append(f'la source doit commencer par {{% extends "{LAYOUT_FILE}" %}}')
        for node in body[1:]:
            if isinstance(node, nodes.Block):
                continue
            if isinstance(node, nodes.Output) and all(
                isinstance(n, nodes.TemplateData) and not n.data.strip() for n in node.nodes
            ):
                continue
            problems.append(f"ligne {node.lineno} : hors bloc, seul {{% block %}} est permis")
        top_blocks = {block.name: block for block in _blocks(tree)}
        for name in top_blocks:
            if name not in (*LAYOUT_BLOCKS, OBJECT_SLOT):
                problems.append(f"bloc {name} inconnu de la mise en page (à placer dans {BODY_SLOT})")
        for required in (OBJECT_SLOT, BODY_SLOT):
            if required not in top_blocks:
                problems.append(f"bloc {required} manquant")
        if BODY_SLOT in top_blocks:
            body_blocks = _blocks(top_blocks[BODY_SLOT])
            in_body = [block.name for block in body_blocks]
            declared = [section.id for section in self.manifest.sections]
            if in_body != declared:
                problems.append(
                    f"les blocs de {BODY_SLOT} ({', '.join(in_body) or 'aucun'}) ne suivent pas "
                    f"les sections du manifeste ({', '.join(declared)})"
                )
            problems += [
                f"section {block.name} : blocs imbriqués interdits" for block in body_blocks if _blocks(block)
            ]
        files, used = self._names_used(tree, problems)
        declared_fields = {field.name for field in self.manifest.fields}
        problems += [f"variable {name} utilisée mais non déclarée" for name in sorted(used - declared_fields)]
        problems += [f"champ {name} déclaré mais jamais utilisé" for name in sorted(declared_fields - used)]
        return files, problems

    def _names_used(self, tree: nodes.Template, problems: list[str]) -> tuple[list[str], set[str]]:
        """Follow includes from the source; return every file involved and the fact names they use."""
        files = [f"{self.directory.name}/{MANIFEST_FILE}", self._source_name, LAYOUT_FILE, DISCLOSURE_FILE]
        used = set(meta.find_undeclared_variables(tree))
        pending = [tree]
        while pending:
            for name in meta.find_referenced_templates(pending.pop()):
                if name is None:
                    problems.append("inclusion dynamique interdite : nommer le fichier inclus")
                elif name not in files:
                    files.append(name)
                    try:
                        included = _parsed(self._environment, name)
                    except (OSError, JinjaError) as error:
                        problems.append(f"fichier inclus {name} illisible : {error}")
                        continue
                    if name != LAYOUT_FILE:
                        used |= meta.find_undeclared_variables(included)
                        pending.append(included)
        return files, used - RESERVED_NAMES - set(self._environment.globals)


def _read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest.model_validate(data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TemplateDefect(directory.name, [f"{MANIFEST_FILE} illisible : {error}"]) from error
    except ValidationError as error:
        raise TemplateDefect(
            directory.name, [f"{MANIFEST_FILE} : {problem}" for problem in problems_from(error)]
        ) from error
    if manifest.id != directory.name:
        raise TemplateDefect(directory.name, [f"l'id {manifest.id!r} diffère du nom du dossier"])
    return manifest


def _sources_hash(environment: _Sandbox, files: list[str]) -> str:
    """SHA-256 identifying a template's exact sources.

    Contract: the SHA-256 of the lines ``"<path>\\t<sha256 of the file's bytes>\\n"``, one per file
    (manifest, source, layout, included partials), sorted by path relative to the library root.
    Changing this changes every template hash recorded in past drafts.
    """
    assert isinstance(environment.loader, FileSystemLoader)
    root = Path(environment.loader.searchpath[0])
    lines = "".join(f"{name}\t{sha256_hex((root / name).read_bytes())}\n" for name in sorted(files))
    return sha256_hex(lines.encode("utf-8"))


def template_dirs(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(("_", ".")))


class TemplateLibrary:
    """A folder of vetted templates sharing one layout. Every template in it passed the structure checks."""

    def __init__(self, root: Path, templates: Mapping[str, Template]) -> None:
        self.root = root
        self._templates = dict(templates)

    @classmethod
    def from_path(cls, path: str | Path) -> TemplateLibrary:
        """Load every template under `path`; raise `TemplateDefect` on the first one that is defective."""
        root = Path(path)
        environment = open_library(root)
        templates = [Template(directory, environment) for directory in template_dirs(root)]
        return cls(root, {template.id: template for template in templates})

    @classmethod
    def default(cls) -> TemplateLibrary:
        """The vetted templates shipped with courrier."""
        return cls.from_path(shipped_templates_dir())

    def ids(self) -> list[str]:
        """Template ids, sorted."""
        return sorted(self._templates)

    def get(self, template_id: str) -> Template:
        """The template with this id; `TemplateNotFound` (a `LookupError`) otherwise."""
        try:
            return self._templates[template_id]
        except KeyError:
            raise TemplateNotFound(template_id, self.ids()) from None

    def __iter__(self) -> Iterator[Template]:
        return iter(self._templates[template_id] for template_id in self.ids())

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._templates


def open_library(root: Path) -> _Sandbox:
    """The sandbox for a library folder, after checking that its layout defines the letter's blocks."""
    if not root.is_dir():
        raise LibraryNotFound(root)
    environment = _environment(root)
    try:
        layout = _parsed(environment, LAYOUT_FILE)
    except (OSError, JinjaError) as error:
        raise TemplateDefect(LAYOUT_FILE, [f"mise en page illisible : {error}"]) from error
    try:
        _parsed(environment, DISCLOSURE_FILE)
    except (OSError, JinjaError) as error:
        raise TemplateDefect(DISCLOSURE_FILE, [f"mention d'assistance illisible : {error}"]) from error
    names = [block.name for block in _blocks(layout)]
    if names != list(LAYOUT_BLOCKS):
        raise TemplateDefect(
            LAYOUT_FILE,
            [f"blocs attendus dans l'ordre : {', '.join(LAYOUT_BLOCKS)} ; trouvés : {', '.join(names)}"],
        )
    return environment
