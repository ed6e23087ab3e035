"""The `courrier` command. Messages are in French; exit 0 on success, 1 on a defect, 2 on bad input
(one line naming the file and the field), 141 when the reader of the output went away. `-` names
standard input; every input file is read within a size cap; nothing is written when a later step fails."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, get_args

from ._batch import BatchItem, draft_batch, read_batch
from ._draft import Draft
from ._files import MAX_DRAFT_BYTES, MAX_REQUEST_BYTES, read_file, read_stream, staged_write
from ._request import LetterRequest
from ._verify import Requirement, journal_problem, verify
from ._version import __version__
from .drafting import STYLES, Drafter
from .errors import CourrierError, UnreadableFile, UserError, VerificationError
from .journal import Journal, default_journal_path
from .lint import lint
from .outputs import BINARY_FORMATS, FORMATS, SUFFIXES, Format, document, format_for, to_prov_json
from .record import Disclosure, ProvenanceRecord, overrides
from .rendering import TemplateLibrary, library_roots, shipped_templates_dir, template_folders
from .signing import generate_key_pair, load_private_key, load_public_key, sign_draft, signature_problem

if TYPE_CHECKING:
    from .model import LocalEngine

__all__ = ["main"]

EXIT_OK, EXIT_DEFECT, EXIT_BAD_INPUT = 0, 1, 2
"""Exit codes: success; a defect (template, model, failed verification); bad input from the caller."""

EXIT_BROKEN_PIPE = 141
"""Exit code when the reader of the output went away (`courrier show ID --schema | head -1`): 128 +
SIGPIPE, what the shell reports for a command that a closed pipe stopped. Nothing more is printed."""

STDIN = Path("-")
"""The file name that stands for standard input."""

_STDIN_NAME = "(entrée standard)"
"""How messages name standard input."""

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
    """Run the command line; return the exit code.

    Documents go to standard output as UTF-8 bytes, whatever its encoding; a message that the terminal
    cannot encode is written with escapes (`\\xe9`) rather than failing.
    """
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        args = _parser().parse_args(argv)
        try:
            code: int = args.run(args)
        except UserError as error:
            code = _fail(str(error), EXIT_BAD_INPUT)
        except CourrierError as error:
            code = _fail(str(error), EXIT_DEFECT)
        sys.stdout.flush()  # a closed pipe is found here, not at the interpreter's exit
    except BrokenPipeError:
        # As the Python documentation advises: the rest of the output goes nowhere, quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return code


def _fail(message: str, code: int) -> int:
    print(f"courrier : erreur : {message}", file=sys.stderr)
    return code


class _Parser(argparse.ArgumentParser):
    """argparse, whose mistakes are told in one French line (its own messages are English)."""

    def error(self, message: str) -> NoReturn:
        for pattern, french in _ARGPARSE_MESSAGES:
            if (match := pattern.fullmatch(message)) is not None:
                message = match.expand(french)
                break
        else:
            message = f"arguments invalides : {message}"
        self.exit(EXIT_BAD_INPUT, f"courrier : erreur : {message} (voir « {self.prog} --help »)\n")


_ARGPARSE_MESSAGES = tuple(
    (re.compile(pattern), french)
    for pattern, french in (
        (r"the following arguments are required: (.*)", r"argument obligatoire manquant : \1"),
        (r"unrecognized arguments: (.*)", r"argument inconnu : \1"),
        (r"argument (\S+): invalid choice: (.*) \(choose from (.*)\)", r"\1 : choix inconnu \2 (choix : \3)"),
        (r"argument (\S+): invalid int value: (.*)", r"\1 : nombre entier attendu, pas \2"),
        (r"argument (\S+): invalid \w+ value: (.*)", r"\1 : valeur invalide \2"),
        (r"argument (\S+): not allowed with argument (\S+)", r"\1 et \2 s'excluent"),
        (r"argument (\S+): expected one argument", r"\1 attend une valeur"),
        (r"argument (\S+): expected (.*)", r"\1 : nombre de valeurs incorrect"),
        (r"ambiguous option: (\S+) could match (.*)", r"option ambiguë \1 (possibles : \2)"),
    )
)
"""argparse's messages (Python 3.11 to 3.13), in French."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    draft.add_argument(
        "request", type=Path, metavar="DEMANDE.json", help="la demande ; - : l'entrée standard"
    )
    _drafting_options(draft)
    draft.add_argument("--sign-key", type=Path, metavar="CLE.pem", help="signer le registre (ed25519)")
    _output_options(draft)
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
    export.add_argument("draft", type=Path, metavar="BROUILLON.json", help=_DRAFT_HELP)
    _output_options(export)
    export.add_argument(
        "--journal",
        type=Path,
        metavar="FICHIER",
        help="journal qui prouve l'approbation (par défaut : $COURRIER_JOURNAL, sinon "
        "~/.local/state/courrier/journal.sqlite3, s'il existe)",
    )
    export.add_argument(
        "--key",
        type=Path,
        metavar="CLE_PUBLIQUE.pem",
        help="clé publique dont la signature prouve l'approbation",
    )
    export.set_defaults(run=_export)

    check_draft = commands.add_parser(
        "verify", help="vérifier qu'un brouillon (JSON) correspond à son registre de provenance"
    )
    check_draft.add_argument("draft", type=Path, metavar="BROUILLON.json")
    check_draft.add_argument("--key", type=Path, metavar="CLE_PUBLIQUE.pem", help="exiger cette signature")
    check_draft.add_argument(
        "--journal",
        type=Path,
        metavar="FICHIER",
        help="exiger que ce journal SQLite (lu seulement) enregistre cette version du brouillon",
    )
    check_draft.add_argument(
        "--require",
        choices=get_args(Requirement),
        help="exiger une preuve : le journal (par défaut $COURRIER_JOURNAL, sinon "
        "~/.local/state/courrier/journal.sqlite3), la signature, ou l'un des deux (any)",
    )
    check_draft.set_defaults(run=_verify)

    replay_draft = commands.add_parser(
        "replay",
        help="rédiger de nouveau avec le même modèle et dire, par paragraphe, si le texte est identique",
    )
    replay_draft.add_argument("draft", type=Path, metavar="BROUILLON.json", help=_DRAFT_HELP)
    replay_draft.add_argument(
        "--model",
        type=Path,
        metavar="FICHIER.gguf",
        help="le fichier du modèle enregistré, s'il n'est pas l'embarqué",
    )
    replay_draft.set_defaults(run=_replay)

    prov = commands.add_parser("prov", help="afficher le registre de provenance au format PROV-JSON (W3C)")
    prov.add_argument("draft", type=Path, metavar="BROUILLON.json", help=_DRAFT_HELP)
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


_DRAFT_HELP = "le brouillon ; - : l'entrée standard"


def _format_option(command: argparse.ArgumentParser, default: str) -> None:
    command.add_argument(
        "--format",
        choices=FORMATS,
        help=f"{', '.join(FORMATS)} (par défaut : {default})",
    )


def _output_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FICHIER",
        help="écrire dans FICHIER (sinon : la sortie standard)",
    )
    _format_option(
        command,
        "d'après l'extension de FICHIER, "
        + ", ".join(f"{suffix} : {name}" for name, suffix in SUFFIXES.items())
        + " ; text sans extension ni FICHIER ; toute autre extension demande --format",
    )


def _check_drafting_options(args: argparse.Namespace) -> None:
    """The caller's mistakes in the drafting options, found before the journal is opened or the model
    loaded."""
    if args.retries < 0:
        raise UserError("--retries attend un nombre positif ou nul")
    _require_model_file(args.model)


def _drafter(args: argparse.Namespace, library: TemplateLibrary) -> Drafter:
    """The drafter the options ask for (checked by `_check_drafting_options`); the model is loaded
    once, here."""
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


def _require_model_file(path: Path | None) -> None:
    """A model file named with --model must exist: the caller's mistake, found before any loading."""
    if path is not None and not path.is_file():
        raise UnreadableFile(
            path, "c'est un dossier, pas un fichier" if path.is_dir() else "fichier introuvable"
        )


def _journal_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--journal",
        type=Path,
        metavar="FICHIER",
        help="journal SQLite (par défaut : $COURRIER_JOURNAL, sinon ~/.local/state/courrier/journal.sqlite3)",
    )


def _no_journal_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-journal", action="store_true", help="ne rien inscrire au journal")


@contextmanager
def _journal(args: argparse.Namespace) -> Iterator[Journal | None]:
    """The journal the options name, opened (so checked) before any drafting; None with --no-journal."""
    if args.no_journal:
        yield None
        return
    with Journal(args.journal or default_journal_path()) as journal:
        yield journal


def _library(args: argparse.Namespace) -> TemplateLibrary:
    """The shipped library, with the agency's folder of `--templates` on top of it if given."""
    if args.templates:
        return TemplateLibrary.from_path(args.templates, base=shipped_templates_dir())
    return TemplateLibrary.default()


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
        _write_stdout(_json_document(template.fields_schema()))
        return EXIT_OK
    manifest = template.manifest
    lines = [
        f"{manifest.id} {manifest.version} — {manifest.title}",
        f"Nature : {manifest.kind}{' (décision)' if manifest.decision else ''}",
        f"Relecture : {manifest.review.status}, par {manifest.review.by}, le {manifest.review.on}",
        "Textes : "
        + (
            "tous fournis avec courrier"
            if template.shipped
            else "en partie propres à l'organisme : la relecture ci-dessus ne les couvre pas"
        ),
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
    # Every fault of the request and of the options, named with its file, before the model is loaded.
    library = _library(args)
    request = _read_request(args.request, library)
    _output_format(args)
    signing_key = load_private_key(args.sign_key) if args.sign_key else None
    _check_drafting_options(args)
    with _journal(args) as journal:
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
        # The journal event and the output succeed or fail together.
        with _delivery(draft, args):
            if journal is not None:
                journal.record(draft)
        if journal is not None:
            print(
                f"courrier : brouillon {draft.id} (version 1) inscrit au journal {journal.path}",
                file=sys.stderr,
            )
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    draft = _read_draft(args.draft)
    with _delivery(draft, args, approval_proven=_approval_proven(draft, args)):
        pass
    return EXIT_OK


def _approval_proven(draft: Draft, args: argparse.Namespace) -> bool:
    """Whether the signature (--key) or the journal (--journal, else the default one if it exists)
    proves an approved draft: anyone can write an approval into a record and recompute its hashes."""
    if not draft.approved:
        return True
    reasons: list[str] = []
    if args.key:
        reason = signature_problem(draft, load_public_key(args.key))
        if reason is None:
            return True
        reasons.append(f"signature : {reason}")
    path: Path = args.journal or default_journal_path()
    if args.journal or path.exists():
        with Journal(path, read_only=True) as journal:
            chain = journal.record_chain(draft.id)
        reason = journal_problem(draft, chain)
        if reason is None:
            if draft.version < len(chain):
                print(
                    f"courrier : note : le journal a une version plus récente : la version {len(chain)}",
                    file=sys.stderr,
                )
            return True
        reasons.append(f"journal : {reason}")
    banner = "" if _output_format(args) in ("text", "md") else " ; le document le signale"
    why = " ; ".join(reasons) or "ni journal ni clé publique pour la prouver"
    print(f"courrier : approbation non prouvée ({why}){banner}", file=sys.stderr)
    return False


def _output_format(args: argparse.Namespace) -> Format:
    """The format asked for (by --format, else by the file's suffix, which must be one of a format);
    a binary one needs a file, and the file a folder that exists."""
    output: Path | None = args.output
    output_format: Format | None = args.format or format_for(output)
    if output_format is None:  # only a file's suffix names no format
        known = ", ".join(f"{suffix} ({name})" for name, suffix in SUFFIXES.items())
        raise UserError(
            f"{args.output} : extension {args.output.suffix} inconnue (extensions admises : {known}) ;"
            " précisez le format par --format"
        )
    if output is None and output_format in BINARY_FORMATS:
        raise UserError(f"le format {output_format} s'écrit dans un fichier : précisez -o FICHIER")
    if output is not None and output.is_dir():
        raise UserError(f"{output} est un dossier : -o attend un fichier")
    if output is not None and not output.parent.is_dir():
        raise UserError(f"dossier de sortie introuvable : {output.parent}")
    return output_format


@contextmanager
def _delivery(draft: Draft, args: argparse.Namespace, *, approval_proven: bool = True) -> Iterator[None]:
    """The draft's document in the format asked for, delivered once the block succeeds: staged beside
    -o FILE and renamed over it (removed if the block raises), or written to standard output after it."""
    output_format = _output_format(args)
    content = document(draft, output_format, approval_proven=approval_proven)
    if args.output is None:
        yield
        _write_stdout(content)
        return
    with staged_write(args.output, content):
        yield
    noun = "brouillon" if output_format == "json" else "courrier"
    print(f"courrier : {noun} écrit dans {args.output}", file=sys.stderr)


def _write_stdout(content: bytes) -> None:
    """A document on standard output, as its bytes (UTF-8 text, whatever the terminal's encoding)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(content)
    sys.stdout.buffer.flush()


def _json_document(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _batch(args: argparse.Namespace) -> int:
    output_format: Format = args.format or "text"
    lines = read_batch(args.requests)
    _check_drafting_options(args)
    with _journal(args) as journal:
        drafter = _drafter(args, _library(args))
        items = draft_batch(
            drafter, lines, args.output, format=output_format, journal=journal, on_item=_Progress()
        )
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
    journal_path: Path | None = args.journal
    if journal_path is None and (args.require == "journal" or (args.require == "any" and public_key is None)):
        journal_path = default_journal_path()
    journal = Journal(journal_path, read_only=True) if journal_path else None
    try:
        result = verify(
            draft, library=_library(args), public_key=public_key, journal=journal, require=args.require
        )
    except VerificationError as error:
        print(f"courrier : {args.draft} : NON CONFORME", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_DEFECT
    finally:
        if journal is not None:
            journal.close()
    checks = ["texte, registre et sceau concordent"]
    if result.vetted_text_checked:
        checks.append("textes validés recalculés depuis le modèle")
    if "journal" in result.proofs:
        checks.append(f"version inscrite au journal {journal_path}")
    if result.signature_checked:
        checks.append("signature valide")
    verdict = "conforme, avec dérogation au texte validé" if result.overrides else "conforme"
    print(
        f"{args.draft} : {verdict} — brouillon {result.draft_id}, version {result.version}, "
        f"{result.paragraphs} paragraphes ; {' ; '.join(checks)}"
    )
    print(f"empreinte du registre : {result.record_sha256}")
    for edit in result.overrides:
        print(
            f"dérogation : section {edit.section} modifiée en version {edit.version} par {edit.author}"
            f" (motif : {edit.reason})"
        )
    for note in result.notes:
        print(f"note : {note}")
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    from ._replay import model_for_replay, replay  # loads the local model's layer

    _require_model_file(args.model)
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
    _write_stdout(_json_document(to_prov_json(_read_draft(args.draft))))
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    path = args.journal or default_journal_path()
    with Journal(path, read_only=True) as journal:  # a command that reads creates nothing
        events = journal.history(args.draft_id)
        if not events:
            raise UserError(f"aucun événement pour le brouillon {args.draft_id} dans le journal {path}")
        journal.verify(args.draft_id)
    for event in events:
        overridden = [
            edit.section
            for edit in overrides(ProvenanceRecord.model_validate_json(event.record_json))
            if edit.version == event.version
        ]
        print(
            f"v{event.version}  {event.at:%Y-%m-%d %H:%M:%S}  {_CHANGES[event.change]:<9}  "
            f"{event.actor or '-'}  {event.record_sha256[:16]}"
            + "".join(f"  dérogation au texte validé : {section}" for section in overridden)
        )
    print(f"{len(events)} événement(s), chaîne d'empreintes intacte", file=sys.stderr)
    return EXIT_OK


_CHANGES = {"drafted": "rédigé", "edited": "modifié", "approved": "approuvé"}


def _keygen(args: argparse.Namespace) -> int:
    generate_key_pair(args.private_key, args.public_key)
    print(f"clé privée : {args.private_key} (à garder secrète) ; clé publique : {args.public_key}")
    return EXIT_OK


def _read_draft(path: Path) -> Draft:
    """The draft in the file at `path` (`-`: standard input), at most `MAX_DRAFT_BYTES`."""
    return Draft.from_json(_read(path, MAX_DRAFT_BYTES), source=_name(path))


def _read_request(path: Path, library: TemplateLibrary) -> LetterRequest:
    """The request in the file at `path` (`-`: standard input), at most `MAX_REQUEST_BYTES`, its facts
    checked in the same pass: every fault named at once."""
    return LetterRequest.from_json(_read(path, MAX_REQUEST_BYTES), source=_name(path), library=library)


def _read(path: Path, limit: int) -> bytes:
    return read_stream(sys.stdin.buffer, limit, _STDIN_NAME) if path == STDIN else read_file(path, limit)


def _name(path: Path) -> str:
    """How messages name an input file."""
    return _STDIN_NAME if path == STDIN else str(path)


def _lint(args: argparse.Namespace) -> int:
    # An agency's folder is linted as `--templates` reads it: on top of the shipped library.
    directory = args.directory or args.templates or shipped_templates_dir()
    base = shipped_templates_dir()
    problems = lint(directory, base=base)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problème(s) dans {directory}", file=sys.stderr)
        return EXIT_DEFECT
    count = len(template_folders(*library_roots(directory, base)))
    print(f"{count} modèle(s) vérifié(s) dans {directory} : aucun problème")
    return EXIT_OK
