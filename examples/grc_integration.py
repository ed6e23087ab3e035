"""How GRC software (gestion de la relation citoyen) integrates courrier, from case record to archive.

    python examples/grc_integration.py               # drafting with the embedded local model
    python examples/grc_integration.py --no-llm      # vetted text only: fast, no model needed
    python examples/grc_integration.py --out DOSSIER # where the files go (default: a temp folder)

The steps, as a GRC would run them for an incomplete application:

1. map the case record (as the GRC stores it) to a `LetterRequest` for "demande-pieces-manquantes";
2. draft it with `Drafter` (the local model may only rephrase the sections the template allows);
3. list the paragraphs to review, those written by the model flagged;
4. apply the case officer's edit (`Draft.edit`), then the signatory's approval (`Draft.approve`);
5. journal every version in an append-only SQLite `Journal`;
6. export the draft JSON (the provenance record) and the letter (text, and ODT where courrier has it);
7. later, reload the stored JSON, `verify` it against the template library, and read the journal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import courrier
from courrier import (
    CourrierError,
    Draft,
    Drafter,
    InvalidInput,
    Journal,
    LetterRequest,
    ModelError,
    TemplateLibrary,
    UserError,
    VerificationError,
    verify,
)
from courrier.model import LocalEngine

# --- 1. The case record, as a GRC holds it ------------------------------------------------------------

# The GRC's own settings for this procedure: who writes, who signs, and the rules of the procedure.
SERVICE: dict[str, Any] = {
    "collectivite": "Département de l'Orne",
    "service": "Direction de l'insertion et du logement – Fonds de solidarité pour le logement",
    "adresse": ["Hôtel du Département", "27 boulevard de Strasbourg", "61000 Alençon"],
    "ville": "Alençon",
    "telephone": "02 33 00 00 00",
    "courriel": "fsl@departement-exemple.fr",
    "signataire": {"prenom": "Nathalie", "nom": "Guérin", "qualite": "La cheffe du service logement"},
    "delegation": "Pour le président du conseil départemental et par délégation",
}

PROCEDURE: dict[str, Any] = {
    "code": "FSL-DG",
    "objet": "une aide du fonds de solidarité pour le logement pour le paiement de votre dépôt de garantie",
    "silence_vaut": "rejet",  # the effect of the administration's silence (CRPA L231-1 and exceptions)
    "delai_pieces_jours": 30,  # the time given to send the missing documents
}

DOSSIER: dict[str, Any] = {
    "numero": "FSL-2026-03391",
    "procedure": "FSL-DG",
    "canal_depot": "l'espace France services de Flers",
    "date_reception": "2026-11-09",
    "date_traitement": "2026-11-18",  # in production: today
    "usager": {
        "civilite": "MME",
        "prenom": "Aurélie",
        "nom": "LEFÈVRE",
        "adresse": {
            "ligne1": "Résidence Les Tilleuls, bâtiment B",
            "ligne2": "14 rue Jean-Jaurès",
            "code_postal": "61100",
            "commune": "FLERS",
        },
    },
    "agent_instructeur": {"prenom": "Karim", "nom": "Belkacem", "telephone": "02 33 00 00 47"},
    "pieces": [
        {"libelle": "le formulaire de demande signé", "statut": "recue", "indispensable": True},
        {
            "libelle": "la copie de votre bail signé par vous et par votre propriétaire",
            "statut": "manquante",
            "indispensable": True,
        },
        {
            "libelle": "vos justificatifs de ressources des trois derniers mois",
            "statut": "manquante",
            "indispensable": True,
        },
        {
            "libelle": "un relevé d'identité bancaire de votre propriétaire",
            "statut": "manquante",
            "indispensable": False,  # the case goes on without it (CRPA L114-5-1)
        },
    ],
}

CIVILITES = {"MME": "Madame", "M": "Monsieur", "M.": "Monsieur"}


def letter_request(
    dossier: dict[str, Any],
    procedure: dict[str, Any],
    service: dict[str, Any],
    library: TemplateLibrary | None = None,
) -> LetterRequest:
    """Map the GRC's record to courrier's request. `InvalidRequest` names every field at fault: with
    `library`, those of the template's facts too, in the same error."""
    usager, agent = dossier["usager"], dossier["agent_instructeur"]
    adresse = usager["adresse"]
    letter_date = dt.date.fromisoformat(dossier["date_traitement"])
    missing = [piece for piece in dossier["pieces"] if piece["statut"] == "manquante"]
    return LetterRequest.from_data(
        {
            "template": "demande-pieces-manquantes",
            "date": letter_date.isoformat(),
            "sender": {
                "organisation": service["collectivite"],
                "service": service["service"],
                "address": service["adresse"],
                "city": service["ville"],
                "phone": service["telephone"],
                "email": service["courriel"],
                "signatory": {
                    "first_name": service["signataire"]["prenom"],
                    "last_name": service["signataire"]["nom"],
                    "role": service["signataire"]["qualite"],
                },
                "delegation": service["delegation"],
                "case_officer": {"name": f"{agent['prenom']} {agent['nom']}", "phone": agent["telephone"]},
            },
            "recipient": {
                "civility": CIVILITES.get(usager["civilite"]),
                # GRCs often store names and towns in capitals: a letter writes them as names.
                "name": f"{usager['prenom']} {usager['nom'].title()}",
                "address": [
                    line
                    for line in (
                        adresse["ligne1"],
                        adresse.get("ligne2"),
                        f"{adresse['code_postal']} {adresse['commune'].title()}",
                    )
                    if line
                ],
            },
            "references": {"ours": dossier["numero"], "yours": f"Dossier déposé à {dossier['canal_depot']}"},
            # The facts that the template asks for: `courrier show demande-pieces-manquantes --schema`.
            "facts": {
                "objet_demande": procedure["objet"],
                "date_reception": dossier["date_reception"],
                "pieces_manquantes": [p["libelle"] for p in missing if p["indispensable"]],
                "date_limite": (letter_date + dt.timedelta(days=procedure["delai_pieces_jours"])).isoformat(),
                "silence_vaut": procedure["silence_vaut"],
                "pieces_complementaires": [p["libelle"] for p in missing if not p["indispensable"]],
            },
        },
        library=library,
    )


# --- The steps ----------------------------------------------------------------------------------------------


def review_list(draft: Draft) -> None:
    """Print the paragraphs to review: a model-written one must be read closely before approval."""
    written = sum(1 for paragraph in draft.paragraphs if paragraph.origin == "model")
    print(
        f"\nParagraphes à relire ({len(draft.paragraphs)}, dont {written} écrit(s) par le modèle de langue) :"
    )
    for number, (paragraph, entry) in enumerate(
        zip(draft.paragraphs, draft.provenance.paragraphs, strict=True), start=1
    ):
        flag = "  ⚠ écrit par le modèle de langue : À RELIRE" if paragraph.origin == "model" else ""
        print(f"  {number:2}. {paragraph.section} [{paragraph.mode}, origine {paragraph.origin}]{flag}")
        if entry.fallback_reason:
            print(f"      texte validé gardé, sortie du modèle refusée : {entry.fallback_reason}")
        print(textwrap.indent(textwrap.shorten(paragraph.text, 100, placeholder=" […]"), "      "))


def export(draft: Draft, out_dir: Path, stem: str) -> list[Path]:
    """Write the draft JSON (the provenance, to store with the case) and the letter, in text and ODT.

    A GRC would store these in its document management; here they are plain files.
    """
    written = [out_dir / f"{stem}.json", out_dir / f"{stem}.txt", out_dir / f"{stem}.odt"]
    written[0].write_text(draft.to_json(), encoding="utf-8")
    written[1].write_bytes(courrier.export_document(draft, "text"))
    written[2].write_bytes(courrier.export_document(draft, "odt"))
    return written


CHANGES = {"drafted": "rédaction", "edited": "modification", "approved": "approbation"}


def run(out_dir: Path, *, use_model: bool) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = DOSSIER["numero"]

    # 1. The request, from the record, its facts checked against the template: a GRC would show every
    # problem at once on the case's form.
    library = TemplateLibrary.default()
    try:
        request = letter_request(DOSSIER, PROCEDURE, SERVICE, library)
    except InvalidInput as error:
        print("Dossier incomplet pour ce courrier :", *(f"  - {p}" for p in error.problems), sep="\n")
        return 2
    print(f"Dossier {stem} : demande de pièces pour {request.recipient.name}")

    # 2. The draft. Drafter.local() loads the local model once per process: keep the drafter around.
    drafter = Drafter.local(library) if use_model else Drafter(library, llm=None)
    if isinstance(drafter.llm, LocalEngine):
        print(f"Rédaction avec le modèle local {drafter.llm.fingerprint.file_name}")
    else:
        print("Rédaction sans modèle de langue (textes validés seulement)")
    draft = drafter.draft(request)

    # 5. The journal keeps every version (records only: the facts appear there as hashes).
    with Journal(out_dir / "journal.sqlite3") as journal:
        journal.record(draft)
        print(f"Brouillon {draft.id}, version {draft.version}, empreinte {draft.sha256[:16]}…")

        # 3. What the case officer reviews.
        review_list(draft)

        # 4. The case officer's edit, then the signatory's approval: each is a new, journaled version.
        agent = DOSSIER["agent_instructeur"]
        draft = draft.edit(
            "envoi",
            f"Vous pouvez nous adresser ces pièces par courrier à l'adresse ci-dessus, ou par courriel à "
            f"{SERVICE['courriel']}, en rappelant la référence {stem}. Si vous pensez nous avoir déjà "
            "transmis l'une de ces pièces, merci de nous le signaler.",
            author=f"{agent['prenom']} {agent['nom']}",
            reason="précision de l'adresse électronique du service",
        )
        journal.record(draft)
        print(f"\nVersion {draft.version} : section « envoi » modifiée par {agent['prenom']} {agent['nom']}")
        signataire = SERVICE["signataire"]
        draft = draft.approve(by=f"{signataire['prenom']} {signataire['nom']}", role=signataire["qualite"])
        journal.record(draft)
        print(f"Version {draft.version} : approuvée par {signataire['prenom']} {signataire['nom']}")

        # 6. The files the GRC attaches to the case.
        written = export(draft, out_dir, stem)
        print("\nFichiers écrits :", *(f"  {path}" for path in written), sep="\n")

        # 7. Later (another process, months after): reload the stored JSON and verify it.
        stored = out_dir / f"{stem}.json"
        reloaded = Draft.from_json(stored.read_bytes(), source=stored.name)
        try:
            result = verify(reloaded, library=drafter.library)
        except VerificationError as error:
            print("\nVérification : NON conforme", *(f"  - {p}" for p in error.problems), sep="\n")
            return 1
        print(
            f"\nVérification de {stored.name} : conforme (version {result.version}, "
            f"{result.paragraphs} paragraphes, textes validés vérifiés : "
            f"{'oui' if result.vetted_text_checked else 'non'})"
        )
        checked = journal.verify(reloaded.id)
        print(f"Historique du brouillon {reloaded.id} ({checked} versions, chaîne vérifiée) :")
        for event in journal.history(reloaded.id):
            print(
                f"  v{event.version} {event.change} ({CHANGES[event.change]}) "
                f"le {event.at:%d/%m/%Y à %H:%M:%S} UTC par {event.actor or 'le logiciel courrier'} — "
                f"{event.record_sha256[:16]}…"
            )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Intégration de courrier dans un logiciel de GRC.")
    parser.add_argument(
        "--no-llm", action="store_true", help="rédiger sans modèle de langue (textes validés)"
    )
    parser.add_argument("--out", type=Path, help="dossier de sortie (par défaut : un dossier temporaire)")
    args = parser.parse_args(argv)
    out_dir: Path = args.out or Path(tempfile.mkdtemp(prefix="courrier-grc-"))
    print(f"Dossier de sortie : {out_dir}")
    try:
        return run(out_dir, use_model=not args.no_llm)
    except CourrierError as error:
        hint = " (option --no-llm : rédiger sans modèle de langue)" if isinstance(error, ModelError) else ""
        print(f"courrier : {error}{hint}", file=sys.stderr)
        return 2 if isinstance(error, UserError) else 1


if __name__ == "__main__":
    sys.exit(main())
