"""The vetted template library: manifests, sandboxed strict Jinja2 rendering, structure checks, hashes.

A library is made of layers, folders of templates and shared parts: the shipped library alone, or an
agency's folder on top of it (see `TemplateLibrary.from_path`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2 import meta, nodes
from jinja2.runtime import Context
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
    TemplateError,
    TemplateNotFound,
)
from ..record import SectionMode
from ._loader import LibraryLoader, library_folders
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
from ._sandbox import MAX_LETTER_CHARS, Sandbox, SizeBoundExceeded, bounded_rendering

__all__ = [
    "LINK_REFUSED",
    "MAX_LETTER_CHARS",
    "RenderedSection",
    "Template",
    "TemplateLibrary",
    "library_links",
    "library_roots",
    "open_library",
    "shipped_templates_dir",
    "template_dirs",
    "template_folders",
]

MANIFEST_FILE = "template.toml"

LINK_REFUSED = "lien symbolique refusé : une bibliothèque ne lit que ses propres fichiers"
"""What loading and lint say of a symbolic link found in a library."""


def shipped_templates_dir() -> Path:
    """Where the vetted templates shipped with courrier live: in the wheel, or in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


def _refuse_none(value: Any) -> Any:
    """Printing `None` is a template bug (an optional fact used without `{% if %}`): fail loudly."""
    if value is None:
        raise TypeError("valeur absente (None) imprimée : protéger le champ facultatif par {% if %}")
    return value


def _loader(environment: Sandbox) -> LibraryLoader:
    assert isinstance(environment.loader, LibraryLoader), "every sandbox reads through a library loader"
    return environment.loader


def _parsed(environment: Sandbox, name: str) -> nodes.Template:
    """The syntax tree of a library file; `OSError` or a Jinja error if it cannot be read or parsed."""
    source, _, _ = _loader(environment).get_source(environment, name)
    try:
        return environment.parse(source, name)
    except (RecursionError, MemoryError) as error:  # thousands of nested parentheses or tags
        raise JinjaError(f"imbrication trop profonde dans {name}") from error


def _one_line(error: BaseException) -> str:
    """An error's message on one line (Jinja2's syntax errors add the place and source on more)."""
    return " ".join(str(error).split())


_RENDERING_ERRORS = (
    RecursionError,
    JinjaError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    RuntimeError,
)
"""What rendering a template may raise (the sandbox's refusals and bounds are Jinja errors)."""


def _rendering_error(where: str, part: str, error: BaseException) -> TemplateError:
    """courrier's error, with a one-line message, for what rendering `part` of `where` raised."""
    if isinstance(error, SizeBoundExceeded):
        return RenderLimitExceeded(where, MAX_LETTER_CHARS)
    if isinstance(error, RecursionError):
        return TemplateDefect(
            where, [f"{part} : récursion trop profonde (une macro ou un fichier qui s'appelle lui-même)"]
        )
    if isinstance(error, ZeroDivisionError):
        return TemplateDefect(where, [f"{part} : division par zéro"])
    return TemplateDefect(where, [f"{part} : {_one_line(error)}"])


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

    def __init__(self, directory: Path, environment: Sandbox) -> None:
        self.directory = directory
        self._environment = environment
        self.manifest = _read_manifest(directory, _loader(environment))
        self._source_name = f"{directory.name}/{self.manifest.source}"
        try:
            files, problems = self._check_structure()
            if not problems:
                self._compiled = environment.get_template(self._source_name)
        except RecursionError as error:  # a tree that parses, but too deep to walk or compile
            raise TemplateDefect(self.manifest.id, ["source trop profondément imbriquée"]) from error
        if problems:
            raise TemplateDefect(self.manifest.id, problems)
        self.sha256 = _sources_hash(_loader(environment), files)
        shipped = shipped_templates_dir().resolve()
        self._layers = frozenset(
            _loader(environment).path(name).resolve().is_relative_to(shipped) for name in files
        )
        self.facts_model: type[BaseModel] = build_facts_model(self.manifest)
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
    def library(self) -> Path:
        """The library folder (the layer) this template comes from."""
        return self.directory.parent

    @property
    def shipped(self) -> bool:
        """Whether this template is wholly courrier's: every file it uses (its own, the layout, the
        partials it includes) comes from the shipped library, none from an agency's layer. A shipped
        template that an agency's `_partials/` file changes is not: its vetted text is the agency's."""
        return self._layers == {True}

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
            # The conditional requirements too, over the fields that are valid: every fault at once.
            problems = problems_from(error, prefix="facts")
            at_fault = {problem.path for problem in problems}
            conditional = self._conditional_problems(facts, skip=at_fault)
            raise InvalidRequest([*problems, *conditional], source=source) from error
        problems = self._conditional_problems(dict(validated), skip=set())
        if problems:
            raise InvalidRequest(problems, source=source)
        return validated

    def _conditional_problems(self, facts: Mapping[str, Any], *, skip: set[str]) -> list[FieldProblem]:
        """The optional fields that `required_when` makes required here and that are absent."""
        return [
            FieldProblem(f"facts.{spec.name}", f"obligatoire quand {other} vaut {facts[other]!r}")
            for spec in self.manifest.fields
            for other, values in (spec.required_when or {}).items()
            if not {f"facts.{spec.name}", f"facts.{other}"} & skip
            and facts.get(spec.name) is None
            and facts.get(other) in values
        ]

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
        rendered = []
        part = "mise en page"
        try:
            with bounded_rendering():
                context = self._compiled.new_context(self.variables(request, facts))
                for name, block in self._layout.blocks.items():
                    context.blocks.setdefault(name, []).append(block)
                budget = MAX_LETTER_CHARS
                for section, mode in self.section_plan:
                    part = f"section {section}"
                    text = self._render_block(context, section, budget)
                    budget -= len(text)
                    if text:
                        rendered.append(RenderedSection(section, mode, text))
        except _RENDERING_ERRORS as error:
            raise _rendering_error(self.id, part, error) from error
        return rendered

    def render_disclosure(self, request: LetterRequest, *, model_name: str, local: bool) -> str:
        """The vetted notice that a model drafted part of this letter (see `DISCLOSURE_FILE`)."""
        variables = {"sender": request.sender.model_dump(), "model_name": model_name, "local": local}
        try:
            with bounded_rendering():
                text = self._disclosure.render(variables)
        except _RENDERING_ERRORS as error:
            raise _rendering_error(DISCLOSURE_FILE, "mention d'assistance", error) from error
        if len(text) > MAX_LETTER_CHARS:
            raise RenderLimitExceeded(DISCLOSURE_FILE, MAX_LETTER_CHARS)
        return text.strip()

    def _render_block(self, context: Context, name: str, budget: int) -> str:
        chunks = []
        for chunk in context.blocks[name][0](context):
            budget -= len(chunk)
            if budget < 0:
                raise RenderLimitExceeded(self.id, MAX_LETTER_CHARS)
            chunks.append(chunk)
        return "".join(chunks).strip()

    def _check_structure(self) -> tuple[list[str], list[str]]:
        """Check the source against the manifest; return the files it uses and the problems found."""
        problems: list[str] = []
        try:
            tree = _parsed(self._environment, self._source_name)
        except (OSError, JinjaError) as error:
            return [], [f"source {self.manifest.source} illisible : {_one_line(error)}"]
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
        """Follow extends, includes and imports from the source, the layout and the notice; return
        every file involved and the fact names used by the source and the files it includes."""
        trees = {self._source_name: tree}
        graph: dict[str, list[str]] = {}
        pending = [self._source_name, LAYOUT_FILE, DISCLOSURE_FILE]
        while pending:
            name = pending.pop()
            if name in graph:
                continue
            graph[name] = []
            if name not in trees:
                try:
                    trees[name] = _parsed(self._environment, name)
                except (OSError, JinjaError) as error:
                    problems.append(f"fichier inclus {name} illisible : {_one_line(error)}")
                    continue
            for reference in meta.find_referenced_templates(trees[name]):
                if reference is None:
                    problems.append("inclusion dynamique interdite : nommer le fichier inclus")
                else:
                    graph[name].append(reference)
                    pending.append(reference)
        cycle = _cycle(graph, [self._source_name, LAYOUT_FILE, DISCLOSURE_FILE])
        if cycle:
            problems.append(f"inclusion circulaire : {' → '.join(cycle)}")
        # The layout's and the notice's names are the layout's own (RESERVED_NAMES), not facts.
        used: set[str] = set()
        seen, pending = {LAYOUT_FILE, DISCLOSURE_FILE}, [self._source_name]
        while pending:
            name = pending.pop()
            if name in seen or name not in trees:
                continue
            seen.add(name)
            used |= meta.find_undeclared_variables(trees[name])
            pending += graph[name]
        files = [f"{self.directory.name}/{MANIFEST_FILE}", *graph]
        return files, used - RESERVED_NAMES - set(self._environment.globals)


def _cycle(graph: Mapping[str, Sequence[str]], starts: Sequence[str]) -> list[str] | None:
    """A cycle of files that include one another (each one in it, then the first again), or None.

    Depth-first, with an explicit stack: a chain of a thousand partials must not exhaust Python's.
    """
    done: set[str] = set()
    for start in starts:
        if start in done:
            continue
        path, branches = [start], [iter(graph.get(start, ()))]
        while branches:
            following = next(branches[-1], None)
            if following is None:
                done.add(path.pop())
                branches.pop()
            elif following in path:
                return [*path[path.index(following) :], following]
            elif following not in done:
                path.append(following)
                branches.append(iter(graph.get(following, ())))
    return None


def _read_manifest(directory: Path, loader: LibraryLoader) -> Manifest:
    try:
        data = tomllib.loads(loader.read(f"{directory.name}/{MANIFEST_FILE}").decode("utf-8"))
        manifest = Manifest.model_validate(data)
    except (OSError, JinjaError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TemplateDefect(directory.name, [f"{MANIFEST_FILE} illisible : {_one_line(error)}"]) from error
    except RecursionError as error:
        raise TemplateDefect(
            directory.name, [f"{MANIFEST_FILE} illisible : imbrication trop profonde"]
        ) from error
    except ValidationError as error:
        raise TemplateDefect(
            directory.name, [f"{MANIFEST_FILE} : {problem}" for problem in problems_from(error)]
        ) from error
    if manifest.id != directory.name:
        raise TemplateDefect(directory.name, [f"l'id {manifest.id!r} diffère du nom du dossier"])
    return manifest


def _sources_hash(loader: LibraryLoader, files: list[str]) -> str:
    """SHA-256 identifying a template's exact sources.

    Contract: the SHA-256 of the lines ``"<path>\\t<sha256 of the file's bytes>\\n"``, one per file
    (manifest, source, layout, notice, every file they extend, include or import), sorted by path
    relative to the library root, each file's bytes taken from the layer that serves it. Changing
    this changes every template hash recorded in past drafts.
    """
    lines = "".join(f"{name}\t{sha256_hex(loader.read(name))}\n" for name in sorted(files))
    return sha256_hex(lines.encode("utf-8"))


def template_dirs(root: Path) -> list[Path]:
    """The template folders of one library folder (not its shared parts, nor symbolic links)."""
    return library_folders(root)[0]


def library_roots(path: str | Path, base: TemplateLibrary | str | Path | None = None) -> tuple[Path, ...]:
    """The layers of the library `path` on top of `base` (a library or its folder), the top one first."""
    below = base.roots if isinstance(base, TemplateLibrary) else () if base is None else (Path(base),)
    roots: list[Path] = []
    for root in (Path(path), *below):
        if root.resolve() not in [known.resolve() for known in roots]:
            roots.append(root)
    return tuple(roots)


def template_folders(*roots: Path) -> dict[str, Path]:
    """The template folders of the layers `roots` (the top one first), by id: a folder of a higher
    layer replaces the folder of the same name below."""
    folders: dict[str, Path] = {}
    for root in reversed(roots):
        folders |= {folder.name: folder for folder in library_folders(root)[0]}
    return dict(sorted(folders.items()))


def library_links(*roots: Path) -> list[Path]:
    """The symbolic links anywhere in the layers `roots` (hidden folders aside): a library may hold none."""
    links = []
    for root in roots:
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            links += [
                Path(folder, name) for name in sorted(subfolders + files) if Path(folder, name).is_symlink()
            ]
    return links


class TemplateLibrary:
    """Vetted templates sharing one layout, from one folder or from layers of folders (`roots`, the top
    one first). Every template in it passed the structure checks."""

    def __init__(self, root: Path, templates: Mapping[str, Template], *, roots: Sequence[Path] = ()) -> None:
        self.root = root
        self.roots = tuple(roots) or (root,)
        self._templates = dict(templates)

    @classmethod
    def from_path(
        cls, path: str | Path, *, base: TemplateLibrary | str | Path | None = None
    ) -> TemplateLibrary:
        """Load every template under `path`; raise `TemplateDefect` on the first one that is defective.

        Alone, `path` is the whole library. With `base` (a library, such as `TemplateLibrary.default()`,
        or its folder), `path` is a layer on top of it: its templates are added to those of `base` (one
        with the id of a template of `base` replaces it), and its shared parts (`_layout/`,
        `_partials/`) replace those of the same name in `base`, whose others stay available.
        """
        roots = library_roots(path, base)
        links = library_links(*roots)
        if links:
            raise TemplateDefect(str(links[0]), [LINK_REFUSED])
        environment = open_library(*roots)
        templates = [Template(folder, environment) for folder in template_folders(*roots).values()]
        return cls(roots[0], {template.id: template for template in templates}, roots=roots)

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


def open_library(*roots: Path) -> Sandbox:
    """The sandbox for a library's layers (the top one first), after checking that its layout defines
    the letter's blocks."""
    for root in roots:
        if not root.is_dir():
            raise LibraryNotFound(root)
    environment = Sandbox(LibraryLoader(roots), _refuse_none)
    try:
        layout = _parsed(environment, LAYOUT_FILE)
    except (OSError, JinjaError) as error:
        raise TemplateDefect(LAYOUT_FILE, [f"mise en page illisible : {_one_line(error)}"]) from error
    try:
        _parsed(environment, DISCLOSURE_FILE)
    except (OSError, JinjaError) as error:
        raise TemplateDefect(
            DISCLOSURE_FILE, [f"mention d'assistance illisible : {_one_line(error)}"]
        ) from error
    names = [block.name for block in _blocks(layout)]
    if names != list(LAYOUT_BLOCKS):
        raise TemplateDefect(
            LAYOUT_FILE,
            [f"blocs attendus dans l'ordre : {', '.join(LAYOUT_BLOCKS)} ; trouvés : {', '.join(names)}"],
        )
    return environment
