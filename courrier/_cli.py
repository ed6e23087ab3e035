"""The `courrier` command. Messages are in French; exit 0 on success, 1 on a defect, 2 on bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from ._drafting import Drafter
from ._errors import CourrierError, InvalidInput, InvalidRequest, UserError
from ._export import FORMATS, Format, render
from ._lint import lint
from ._models import LetterRequest
from ._templates import TemplateLibrary, shipped_templates_dir, template_dirs
from ._validation import problems_from
from ._version import __version__

__all__ = ["main"]

EXIT_OK, EXIT_DEFECT, EXIT_BAD_INPUT = 0, 1, 2

_FIELD_TYPES = {
    "text": "texte",
    "long_text": "texte long",
    "date": "date",
    "amount": "montant",
    "integer": "entier",
    "boolean": "oui/non",
    "choice": "choix",
    "list": "liste",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except UserError as error:
        where = getattr(args, "request", None)
        if isinstance(error, InvalidInput) and error.source is None and where is not None:
            error = type(error)(error.problems, source=str(where))
        return _fail(str(error), EXIT_BAD_INPUT)
    except CourrierError as error:
        return _fail(str(error), EXIT_DEFECT)
    return code


def _fail(message: str, code: int) -> int:
    print(f"courrier : erreur : {message}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courrier",
        description="Rédige des courriers administratifs à partir de modèles validés.",
    )
    parser.add_argument("--version", action="version", version=f"courrier {__version__}")
    parser.add_argument(
        "--templates",
        type=Path,
        metavar="DOSSIER",
        help="bibliothèque de modèles à utiliser (par défaut : les modèles fournis)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")

    listing = commands.add_parser("templates", help="lister les modèles")
    listing.set_defaults(run=_templates)

    show = commands.add_parser("show", help="décrire un modèle : champs, sections, fondement juridique")
    show.add_argument("template_id", metavar="ID")
    show.add_argument("--schema", action="store_true", help="afficher le schéma JSON des champs")
    show.set_defaults(run=_show)

    draft = commands.add_parser("draft", help="rédiger un courrier à partir d'une demande JSON")
    draft.add_argument("request", type=Path, metavar="DEMANDE.json")
    draft.add_argument(
        "--no-llm",
        action="store_true",
        help="sans modèle de langue : chaque section garde son texte validé",
    )
    draft.add_argument("-o", "--output", type=Path, metavar="FICHIER", help="écrire dans FICHIER")
    draft.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="text, md ou json (par défaut : d'après l'extension de FICHIER, sinon text)",
    )
    draft.set_defaults(run=_draft)

    check = commands.add_parser("lint", help="vérifier une bibliothèque de modèles")
    check.add_argument("directory", type=Path, nargs="?", metavar="DOSSIER")
    check.set_defaults(run=_lint)
    return parser


def _library(args: argparse.Namespace) -> TemplateLibrary:
    return TemplateLibrary.from_path(args.templates) if args.templates else TemplateLibrary.default()


def _templates(args: argparse.Namespace) -> int:
    library = _library(args)
    rows = [(t.id, t.version, t.kind, t.title) for t in library]
    widths = [max(len(row[i]) for row in rows) for i in range(3)] if rows else [0, 0, 0]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)),
            row[3],
        )
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    template = _library(args).get(args.template_id)
    if args.schema:
        print(json.dumps(template.fields_schema(), ensure_ascii=False, indent=2))
        return EXIT_OK
    manifest = template.manifest
    lines = [
        f"{manifest.id} {manifest.version} — {manifest.title}",
        f"Nature : {manifest.kind}{' (décision)' if manifest.decision else ''}",
        f"Relecture : {manifest.review.status}, par {manifest.review.by}, le {manifest.review.on}",
        f"Empreinte SHA-256 : {template.sha256}",
        "Fondement juridique :",
        *(f"  - {basis}" for basis in manifest.legal_basis),
        "Champs :",
        *(
            f"  {f.name} ({_FIELD_TYPES[f.type]}, {'obligatoire' if f.required else 'facultatif'}"
            + "".join(
                f", obligatoire si {k} vaut {' ou '.join(map(str, v))}"
                for k, v in (f.required_when or {}).items()
            )
            + ")"
            f"{' parmi ' + ', '.join(f.choices) if f.choices else ''} : {f.description}"
            for f in manifest.fields
        ),
        "Sections (dans l'ordre de la lettre, hors mise en page) :",
        *(
            f"  {s.id} : {s.mode}"
            + (f", {s.min_chars}–{s.max_chars} caractères — {s.instructions}" if s.mode != "locked" else "")
            for s in manifest.sections
        ),
        "Mentions obligatoires :",
        *(f"  - {m.label}" for m in manifest.required_mentions),
    ]
    print("\n".join(lines))
    return EXIT_OK


def _draft(args: argparse.Namespace) -> int:
    request = _read_request(args.request)
    draft = Drafter(library=_library(args)).draft(request)
    output_format: Format = args.format or _format_for(args.output)
    document = render(draft, output_format)
    if args.output is None:
        sys.stdout.write(document)
    else:
        _write_atomically(args.output, document)
        print(f"courrier : brouillon écrit dans {args.output}", file=sys.stderr)
    return EXIT_OK


def _read_request(path: Path) -> LetterRequest:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidRequest([], source=f"{path} ({error.strerror or error})") from error
    try:
        return LetterRequest.model_validate_json(data)
    except ValidationError as error:
        raise InvalidRequest(problems_from(error), source=str(path)) from error


def _format_for(output: Path | None) -> Format:
    suffix = output.suffix.lower() if output else ""
    return {".md": "md", ".json": "json"}.get(suffix, "text")  # type: ignore[return-value]


def _write_atomically(path: Path, content: str) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, then a rename."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _lint(args: argparse.Namespace) -> int:
    directory = args.directory or args.templates or shipped_templates_dir()
    problems = lint(directory)
    for problem in problems:
        print(problem)
    count = len(template_dirs(Path(directory)))
    if problems:
        print(f"{len(problems)} problème(s) dans {directory}", file=sys.stderr)
        return EXIT_DEFECT
    print(f"{count} modèle(s) vérifié(s) dans {directory} : aucun problème")
    return EXIT_OK
