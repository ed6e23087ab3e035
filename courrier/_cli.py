"""The `courrier` command. Messages are in French; exit 0 on success, 1 on a defect, 2 on bad input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from ._batch import BatchItem, draft_batch
from ._draft import Draft
from ._files import write_atomically
from ._request import LetterRequest
from ._verify import verify
from ._version import __version__
from .drafting import STYLES, Drafter
from .errors import CourrierError, UnreadableFile, UserError, VerificationError
from .journal import Journal, default_journal_path
from .lint import lint
from .outputs import BINARY_FORMATS, FORMATS, Format, document, format_for, to_prov_json
from .record import Disclosure
from .rendering import TemplateLibrary, shipped_templates_dir, template_dirs
from .signing import generate_key_pair, load_private_key, load_public_key, sign_draft

if TYPE_CHECKING:
    from .model import LocalEngine

__all__ = ["main"]

EXIT_OK, EXIT_DEFECT, EXIT_BAD_INPUT = 0, 1, 2
"""Exit codes: success; a defect (template, model, failed verification); bad input from the caller."""

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
    _drafting_options(draft)
    draft.add_argument("--sign-key", type=Path, metavar="CLE.pem", help="signer le registre (ed25519)")
    draft.add_argument("-o", "--output", type=Path, metavar="FICHIER", help="écrire dans FICHIER")
    _format_option(draft, "d'après l'extension de FICHIER, sinon text")
    _journal_options(draft)
    _no_journal_option(draft)
    draft.set_defaults(run=_draft)

    batch = commands.add_parser(
        "batch", help="rédiger un courrier par ligne d'un fichier JSON Lines (publipostage), avec reprise"
    )
    batch.add_argument("requests", type=Path, metavar="DEMANDES.jsonl")
    batch.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DOSSIER", help="dossier de sortie"
    )
    _drafting_options(batch)
    _format_option(batch, "text")
    _journal_options(batch)
    _no_journal_option(batch)
    batch.set_defaults(run=_batch)

    export = commands.add_parser("export", help="écrire un brouillon (JSON) dans un autre format")
    export.add_argument("draft", type=Path, metavar="BROUILLON.json")
    export.add_argument("-o", "--output", type=Path, metavar="FICHIER", help="écrire dans FICHIER")
    _format_option(export, "d'après l'extension de FICHIER, sinon text")
    export.set_defaults(run=_export)

    check_draft = commands.add_parser(
        "verify", help="vérifier qu'un brouillon (JSON) correspond à son registre de provenance"
    )
    check_draft.add_argument("draft", type=Path, metavar="BROUILLON.json")
    check_draft.add_argument("--key", type=Path, metavar="CLE_PUBLIQUE.pem", help="exiger cette signature")
    check_draft.set_defaults(run=_verify)

    replay_draft = commands.add_parser(
        "replay",
        help="rédiger de nouveau avec le même modèle et dire, par paragraphe, si le texte est identique",
    )
    replay_draft.add_argument("draft", type=Path, metavar="BROUILLON.json")
    replay_draft.add_argument(
        "--model",
        type=Path,
        metavar="FICHIER.gguf",
        help="le fichier du modèle enregistré, s'il n'est pas l'embarqué",
    )
    replay_draft.set_defaults(run=_replay)

    prov = commands.add_parser("prov", help="afficher le registre de provenance au format PROV-JSON (W3C)")
    prov.add_argument("draft", type=Path, metavar="BROUILLON.json")
    prov.set_defaults(run=_prov)

    history = commands.add_parser("history", help="historique d'un brouillon dans le journal")
    history.add_argument("draft_id", metavar="ID")
    _journal_options(history)
    history.set_defaults(run=_history)

    keygen = commands.add_parser("keygen", help="créer une paire de clés ed25519 pour signer les registres")
    keygen.add_argument("private_key", type=Path, metavar="CLE_PRIVEE.pem")
    keygen.add_argument("public_key", type=Path, metavar="CLE_PUBLIQUE.pem")
    keygen.set_defaults(run=_keygen)

    check = commands.add_parser("lint", help="vérifier une bibliothèque de modèles")
    check.add_argument("directory", type=Path, nargs="?", metavar="DOSSIER")
    check.set_defaults(run=_lint)
    return parser


def _drafting_options(command: argparse.ArgumentParser) -> None:
    model = command.add_mutually_exclusive_group()
    model.add_argument(
        "--no-llm",
        action="store_true",
        help="sans modèle de langue : chaque section garde son texte validé",
    )
    model.add_argument(
        "--model",
        type=Path,
        metavar="FICHIER.gguf",
        help="modèle GGUF à utiliser (par défaut : le modèle embarqué, ou $COURRIER_MODEL_PATH)",
    )
    command.add_argument("--style", choices=STYLES, default="standard", help="style de rédaction du modèle")
    command.add_argument(
        "--retries",
        type=int,
        default=1,
        metavar="N",
        help="nouvelles tentatives après un refus des contrôles, avant le texte validé (défaut : 1)",
    )
    command.add_argument(
        "--disclosure",
        choices=get_args(Disclosure),
        default="auto",
        help="mention d'assistance par IA : pour les décisions (auto), toujours, ou jamais",
    )


def _format_option(command: argparse.ArgumentParser, default: str) -> None:
    command.add_argument(
        "--format",
        choices=FORMATS,
        help=f"{', '.join(FORMATS)} (par défaut : {default})",
    )


def _drafter(args: argparse.Namespace, library: TemplateLibrary) -> Drafter:
    """The drafter the options ask for; the model is loaded once, here."""
    if args.retries < 0:
        raise UserError("--retries attend un nombre positif ou nul")
    return Drafter(
        library=library,
        llm=None if args.no_llm else _local_model(args.model),
        style=args.style,
        max_retries=args.retries,
        disclosure=args.disclosure,
    )


def _local_model(path: Path | None) -> LocalEngine:
    from .model import LocalEngine  # llama.cpp (not LangChain), loaded only to draft with the model

    return LocalEngine(**({"model_path": str(path)} if path else {}))


def _journal_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--journal",
        type=Path,
        metavar="FICHIER",
        help="journal SQLite (par défaut : $COURRIER_JOURNAL, sinon ~/.local/state/courrier/journal.sqlite3)",
    )


def _no_journal_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-journal", action="store_true", help="ne rien inscrire au journal")


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
    library = _library(args)
    # Every fault of the request, named with its file, before the model is loaded.
    library.get(request.template).validate_facts(request.facts, source=str(args.request))
    if args.output is not None and not args.output.parent.is_dir():
        raise UserError(f"dossier de sortie introuvable : {args.output.parent}")
    _output_format(args)
    signing_key = load_private_key(args.sign_key) if args.sign_key else None
    drafter = _drafter(args, library)
    draft = drafter.draft(request)
    for paragraph, entry in zip(draft.paragraphs, draft.provenance.paragraphs, strict=True):
        if entry.attempts:
            outcome = (
                "rédigée par le modèle"
                if paragraph.origin == "model"
                else f"texte validé conservé ({entry.fallback_reason})"
            )
            print(f"courrier : section {paragraph.section} : {outcome}", file=sys.stderr)
    if signing_key is not None:
        draft = sign_draft(draft, signing_key)
    _write_draft(draft, args)
    if not args.no_journal:
        path = args.journal or default_journal_path()
        with Journal(path) as journal:
            journal.record(draft)
        print(f"courrier : brouillon {draft.id} (version 1) inscrit au journal {path}", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    _write_draft(_read_draft(args.draft), args)
    return EXIT_OK


def _output_format(args: argparse.Namespace) -> Format:
    """The format asked for (by --format, else by the file's suffix); a binary one needs a file."""
    output_format: Format = args.format or format_for(args.output)
    if args.output is None and output_format in BINARY_FORMATS:
        raise UserError(f"le format {output_format} s'écrit dans un fichier : précisez -o FICHIER")
    return output_format


def _write_draft(draft: Draft, args: argparse.Namespace) -> None:
    content = document(draft, _output_format(args))
    if args.output is None:
        sys.stdout.write(content.decode("utf-8"))
    else:
        write_atomically(args.output, content)
        print(f"courrier : brouillon écrit dans {args.output}", file=sys.stderr)


def _batch(args: argparse.Namespace) -> int:
    drafter = _drafter(args, _library(args))
    output_format: Format = args.format or "text"
    journal = None if args.no_journal else Journal(args.journal or default_journal_path())
    progress = _Progress()
    try:
        items = draft_batch(
            drafter, args.requests, args.output, format=output_format, journal=journal, on_item=progress
        )
    finally:
        if journal is not None:
            journal.close()
    failed = [item for item in items if item.status == "failed"]
    counts = {status: sum(1 for item in items if item.status == status) for status in ("drafted", "done")}
    print(
        f"courrier : {counts['drafted']} courrier(s) rédigé(s), {counts['done']} déjà fait(s) "
        f"(reprise), {len(failed)} en échec, dans {args.output}",
        file=sys.stderr,
    )
    return EXIT_DEFECT if failed else EXIT_OK


class _Progress:
    """A progress bar on stderr when it is a terminal, one line per letter otherwise; failures always."""

    WIDTH = 30
    """Characters of the bar between its brackets."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def __call__(self, position: int, total: int, item: BatchItem | None) -> None:
        if item is None:
            if self.tty:
                print(f"\r[{'.' * self.WIDTH}] 0/{total}", end="", file=sys.stderr)
            return
        if item.status == "failed":
            end = "\n" if self.tty else ""
            print(f"{end}courrier : ligne {item.line} : échec : {item.message}", file=sys.stderr)
        if self.tty:
            filled = round(self.WIDTH * position / total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            print(f"\r[{bar}] {position}/{total}", end="\n" if position == total else "", file=sys.stderr)
        elif item.status != "failed":
            label = "rédigé" if item.status == "drafted" else "déjà fait"
            print(f"courrier : {position}/{total} ligne {item.line} : {label} ({item.name})", file=sys.stderr)


def _verify(args: argparse.Namespace) -> int:
    draft = _read_draft(args.draft)
    public_key = load_public_key(args.key) if args.key else None
    try:
        result = verify(draft, library=_library(args), public_key=public_key)
    except VerificationError as error:
        print(f"courrier : {args.draft} : NON CONFORME", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_DEFECT
    checks = ["texte, registre et sceau concordent"]
    if result.vetted_text_checked:
        checks.append("textes validés recalculés depuis le modèle")
    if result.signature_checked:
        checks.append("signature valide")
    print(
        f"{args.draft} : conforme — brouillon {result.draft_id}, version {result.version}, "
        f"{result.paragraphs} paragraphes ; {' ; '.join(checks)}"
    )
    print(f"empreinte du registre : {result.record_sha256}")
    for note in result.notes:
        print(f"note : {note}")
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    from ._replay import model_for_replay, replay  # loads the local model's layer

    draft = _read_draft(args.draft)
    llm = model_for_replay(draft, str(args.model) if args.model else None)
    results = replay(draft, library=_library(args), llm=llm)
    for result in results:
        outcome = "identique" if result.identical else "DIFFÈRE"
        mode = "" if result.reproducible else " (rédigé hors mode reproductible)"
        where = f"paragraphe {result.index + 1} ({result.section})"
        print(f"{where} : {outcome}, {result.attempts} tentative(s){mode}")
    differing = sum(not result.identical for result in results)
    print(f"{len(results) - differing}/{len(results)} paragraphe(s) identique(s)", file=sys.stderr)
    return EXIT_DEFECT if differing else EXIT_OK


def _prov(args: argparse.Namespace) -> int:
    print(json.dumps(to_prov_json(_read_draft(args.draft)), ensure_ascii=False, indent=2))
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    path = args.journal or default_journal_path()
    with Journal(path) as journal:
        events = journal.history(args.draft_id)
        if not events:
            raise UserError(f"aucun événement pour le brouillon {args.draft_id} dans le journal {path}")
        journal.verify(args.draft_id)
    for event in events:
        print(
            f"v{event.version}  {event.at:%Y-%m-%d %H:%M:%S}  {_CHANGES[event.change]:<9}  "
            f"{event.actor or '-'}  {event.record_sha256[:16]}"
        )
    print(f"{len(events)} événement(s), chaîne d'empreintes intacte", file=sys.stderr)
    return EXIT_OK


_CHANGES = {"drafted": "rédigé", "edited": "modifié", "approved": "approuvé"}


def _keygen(args: argparse.Namespace) -> int:
    generate_key_pair(args.private_key, args.public_key)
    print(f"clé privée : {args.private_key} (à garder secrète) ; clé publique : {args.public_key}")
    return EXIT_OK


def _read_draft(path: Path) -> Draft:
    return Draft.from_json(_read(path), source=str(path))


def _read_request(path: Path) -> LetterRequest:
    return LetterRequest.from_json(_read(path), source=str(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UnreadableFile.of(path, error) from error


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
