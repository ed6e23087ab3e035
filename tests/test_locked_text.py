"""Locked means locked: vetted text changes only by a recorded override, the signature never, and a
draft forged with courrier's own canonical JSON is caught by the journal and the key, and reported as
unproven without them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from zipfile import ZipFile

import pytest

from courrier import (
    Draft,
    Drafter,
    InvalidDraft,
    InvalidInput,
    Journal,
    LetterRequest,
    LockedSection,
    TemplateLibrary,
    UserError,
    VerificationError,
    export_document,
    verify,
)
from courrier.outputs import OVERRIDE_NOTE, UNPROVEN_BANNER, to_in_toto_statement, to_prov_json
from courrier.record import (
    FIXED_SECTIONS,
    ApprovalRecord,
    EditRecord,
    canonical_json,
    edit_refusal,
    seal,
    sha256_hex,
    text_sha256,
)

from .conftest import ROOT, shipped_library

pytest.importorskip("cryptography")

REQUEST = ROOT / "examples" / "requests" / "decision-defavorable.json"
SIX_MONTHS = " Vous pouvez aussi saisir le tribunal dans un délai de six mois."
APPROVER = ("Yannick Le Goff", "Premier adjoint au maire")


@pytest.fixture
def draft() -> Draft:
    request = LetterRequest.from_json(REQUEST.read_text(encoding="utf-8"))
    return Drafter(library=shipped_library()).draft(request)


def _text(draft: Draft, section: str) -> str:
    return next(p.text for p in draft.paragraphs if p.section == section)


# Draft.edit


@pytest.mark.parametrize("section", ["voies_recours", "decision", "objet", "destinataire"])
def test_a_locked_section_is_refused_without_an_override_and_its_reason(draft: Draft, section: str) -> None:
    text = _text(draft, section) + SIX_MONTHS
    with pytest.raises(LockedSection) as caught:
        draft.edit(section, text, author="A. Agent")
    assert caught.value.section == section
    assert isinstance(caught.value, UserError)
    with pytest.raises(LockedSection):
        draft.edit(section, text, author="A. Agent", override=True)  # no reason
    with pytest.raises(LockedSection):
        draft.edit(section, text, author="A. Agent", reason="erreur de délai")  # no override


def test_the_signature_and_the_ai_notice_never_change_by_edit(draft: Draft) -> None:
    with pytest.raises(LockedSection, match="rédigez de nouveau le courrier avec le bon signataire"):
        draft.edit("signature", "Le maire,\n\nJean DUPONT", author="A", reason="autre", override=True)
    assert edit_refusal("mention_ia", "locked", override=True, reason="r") == FIXED_SECTIONS["mention_ia"]
    assert edit_refusal("contact", "rephrase", override=False, reason=None) is None
    assert edit_refusal("voies_recours", "locked", override=True, reason=" \t") is not None  # a forged record


def test_an_override_is_recorded_verified_as_such_and_marked_in_every_export(
    draft: Draft, library: TemplateLibrary
) -> None:
    edited = draft.edit(
        "voies_recours",
        _text(draft, "voies_recours") + SIX_MONTHS,
        author="Maëlle Kerouac",
        reason="consigne du service juridique",
        override=True,
    )
    (edit,) = edited.provenance.edits
    assert (edit.section, edit.reason) == ("voies_recours", "consigne du service juridique")
    result = verify(edited.approve(by=APPROVER[0], role=APPROVER[1]), library=library)
    assert [o.section for o in result.overrides] == ["voies_recours"]
    assert result.vetted_text_checked
    assert verify(draft, library=library).overrides == ()
    for format in ("text", "md", "html", "odt", "docx"):
        content = export_document(edited, format)
        if format in ("odt", "docx"):
            with ZipFile(io.BytesIO(content)) as archive:
                content = b"".join(archive.read(name) for name in archive.namelist())
        assert OVERRIDE_NOTE.encode() in content, format
        assert b"consigne du service juridique" in content, format
    assert OVERRIDE_NOTE.encode() not in export_document(draft, "html")


# Forgery: every hash recomputed with courrier's own canonical JSON


def _forged(draft: Draft, reason: str | None = "précision") -> Draft:
    """`draft` with a sentence added to its locked « voies et délais » paragraph, a made-up edit and
    approval, and every hash recomputed: what anyone can write with courrier's public record types."""
    index = next(i for i, p in enumerate(draft.paragraphs) if p.section == "voies_recours")
    before = draft.paragraphs[index].text
    text = before + SIX_MONTHS
    paragraphs = list(draft.paragraphs)
    paragraphs[index] = paragraphs[index].model_copy(update={"text": text, "origin": "human"})
    entries = list(draft.provenance.paragraphs)
    entries[index] = entries[index].model_copy(update={"text_sha256": text_sha256(text), "origin": "human"})
    at = draft.provenance.created_at
    edit = EditRecord(
        version=2,
        section="voies_recours",
        author="A. Agent",
        reason=reason,
        at=at,
        before_sha256=text_sha256(before),
        after_sha256=text_sha256(text),
    )
    edited = draft.provenance.model_copy(
        update={
            "version": 2,
            "change": "edited",
            "previous_sha256": draft.sha256,
            "paragraphs": tuple(entries),
            "edits": (edit,),
        }
    )
    approved = edited.model_copy(
        update={
            "version": 3,
            "change": "approved",
            "previous_sha256": sha256_hex(canonical_json(edited)),
            "approval": ApprovalRecord(version=3, by=APPROVER[0], role=APPROVER[1], at=at),
        }
    )
    forged = Draft(
        id=draft.id,
        request=draft.request,
        paragraphs=tuple(paragraphs),
        provenance=approved,
        integrity=seal(approved),
    )
    return Draft.from_json(forged.to_json())  # as read back from the file an attacker hands over


def test_a_forged_draft_is_unproven_by_plain_verify_and_fails_with_the_journal_or_the_key(
    draft: Draft, library: TemplateLibrary, tmp_path: Path
) -> None:
    from courrier.signing import generate_key_pair, load_public_key

    forged = _forged(draft)
    assert forged.approved
    assert forged.integrity_problems() == ()  # consistent: its hashes were recomputed
    plain = verify(forged, library=library)
    assert not plain.proven
    assert [o.section for o in plain.overrides] == ["voies_recours"]
    assert any("non prouvé" in note for note in plain.notes)
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.record(draft)  # the agency journaled version 1 only
        with pytest.raises(VerificationError, match="journal"):
            verify(forged, journal=journal)
        assert verify(draft, journal=journal).proofs == ("journal",)
    generate_key_pair(tmp_path / "k.pem", tmp_path / "k.pub")
    with pytest.raises(VerificationError, match="signature"):
        verify(forged, public_key=load_public_key(tmp_path / "k.pub"))
    with pytest.raises(VerificationError, match="preuve exigée"):
        verify(forged, require="any", public_key=None, journal=_Empty())
    with pytest.raises(UserError, match="preuve exigée"):
        verify(forged, require="journal")


class _Empty:
    def record_chain(self, draft_id: str) -> list[str]:
        return []


def test_a_forged_journal_conflict_is_named(draft: Draft, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.record(draft)
        journal.record(draft.approve(by=APPROVER[0], role=APPROVER[1]))
        forged = _forged(draft)
        # Version 2 of the journal is the approval; the forged version 2 is its edit.
        with pytest.raises(VerificationError, match=r"falsification ou bifurcation|au-delà"):
            verify(forged, journal=journal)


def test_an_edit_of_locked_text_without_its_reason_fails_even_unproven(draft: Draft) -> None:
    with pytest.raises(VerificationError, match="modification interdite de la section voies_recours"):
        verify(_forged(draft, reason=None))


def test_a_forged_signature_edit_fails(draft: Draft) -> None:
    data = json.loads(draft.to_json())
    index = next(i for i, p in enumerate(data["paragraphs"]) if p["section"] == "signature")
    text = "Le maire,\n\nJean DUPONT"
    data["paragraphs"][index] |= {"text": text, "origin": "human"}
    record = data["provenance"]
    record["paragraphs"][index] |= {"text_sha256": text_sha256(text), "origin": "human"}
    record |= {
        "version": 2,
        "change": "edited",
        "previous_sha256": draft.sha256,
        "edits": [
            {
                "version": 2,
                "section": "signature",
                "author": "A",
                "reason": "autre signataire",
                "at": record["created_at"],
                "before_sha256": text_sha256(_text(draft, "signature")),
                "after_sha256": text_sha256(text),
            }
        ],
    }
    forged = Draft.model_validate(data)
    forged = forged.model_copy(update={"integrity": seal(forged.provenance)})
    with pytest.raises(VerificationError, match="signataire"):
        verify(forged)


@pytest.mark.parametrize("section", ["decision", "signature", "entete"])
def test_a_locked_or_layout_section_given_to_the_model_fails_without_crashing(
    draft: Draft, library: TemplateLibrary, section: str
) -> None:
    data = json.loads(draft.to_json())
    index = next(i for i, p in enumerate(data["paragraphs"]) if p["section"] == section)
    data["paragraphs"][index]["origin"] = "model"
    data["provenance"]["paragraphs"][index]["origin"] = "model"
    forged = Draft.model_validate(data)
    forged = forged.model_copy(update={"integrity": seal(forged.provenance)})
    for checked_with in (None, library):
        with pytest.raises(VerificationError, match="verrouillée"):
            verify(forged, library=checked_with)
    for export in (to_prov_json, to_in_toto_statement, lambda draft: export_document(draft, "text")):
        with pytest.raises(VerificationError, match="verrouillée"):
            export(forged)


def test_an_empty_letter_fails(draft: Draft) -> None:
    data = json.loads(draft.to_json())
    data["paragraphs"] = []
    data["provenance"] |= {"paragraphs": [], "required_mentions": [], "missing_mentions": []}
    forged = Draft.model_validate(data)
    forged = forged.model_copy(update={"integrity": seal(forged.provenance)})
    with pytest.raises(VerificationError, match="aucun paragraphe"):
        verify(forged)
    with pytest.raises(VerificationError):
        export_document(forged, "html")


def test_an_unproven_approval_keeps_a_draft_banner_when_asked(draft: Draft) -> None:
    approved = draft.approve(by=APPROVER[0], role=APPROVER[1])
    assert UNPROVEN_BANNER not in export_document(approved, "html").decode()
    assert UNPROVEN_BANNER in export_document(approved, "html", approval_proven=False).decode()


# The command


def _courrier(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "courrier", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_verify_command_reports_unproven_then_fails_with_the_journal_and_the_key(
    draft: Draft, tmp_path: Path
) -> None:
    journal_path = tmp_path / "agence.sqlite3"
    with Journal(journal_path) as journal:
        journal.record(draft)
    forged = tmp_path / "forge.json"
    forged.write_text(_forged(draft).to_json(), encoding="utf-8")
    plain = _courrier("verify", forged)
    assert plain.returncode == 0, plain.stderr
    assert "conforme, avec dérogation" in plain.stdout
    assert "dérogation : section voies_recours" in plain.stdout
    assert "non prouvé" in plain.stdout
    with_journal = _courrier("verify", forged, "--journal", journal_path)
    assert with_journal.returncode == 1
    assert "NON CONFORME" in with_journal.stderr
    assert "journal" in with_journal.stderr
    assert "Traceback" not in with_journal.stderr
    from courrier.signing import generate_key_pair

    generate_key_pair(tmp_path / "k.pem", tmp_path / "k.pub")
    with_key = _courrier("verify", forged, "--key", tmp_path / "k.pub")
    assert with_key.returncode == 1
    assert "signature" in with_key.stderr
    required = _courrier("verify", forged, "--require", "journal", "--journal", journal_path)
    assert required.returncode == 1
    genuine = tmp_path / "vrai.json"
    genuine.write_text(draft.to_json(), encoding="utf-8")
    proven = _courrier("verify", genuine, "--journal", journal_path, "--require", "journal")
    assert proven.returncode == 0, proven.stderr
    assert "version inscrite au journal" in proven.stdout
    assert "non prouvé" not in proven.stdout


def test_verify_with_a_missing_journal_creates_nothing(draft: Draft, tmp_path: Path) -> None:
    genuine = tmp_path / "vrai.json"
    genuine.write_text(draft.to_json(), encoding="utf-8")
    result = _courrier("verify", genuine, "--journal", tmp_path / "sous" / "dossier" / "j.sqlite3")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sous").exists()


def test_a_letter_without_its_appeal_routes_is_exported_with_them_named_missing(draft: Draft) -> None:
    gutted = draft.edit(
        "voies_recours", "Recours : voir au verso.", author="A", reason="essai", override=True
    )
    missing = gutted.provenance.missing_mentions
    assert "Voies et délais de recours (CRPA L411-2 ; CJA R421-5)" in missing
    page = export_document(gutted, "html").decode()
    assert f"BROUILLON — non approuvé — mention obligatoire absente : {' ; '.join(missing)}" in page


def test_export_command_keeps_a_banner_on_an_approval_nothing_proves(draft: Draft, tmp_path: Path) -> None:
    journal_path = tmp_path / "agence.sqlite3"
    approved = draft.approve(by=APPROVER[0], role=APPROVER[1])
    with Journal(journal_path) as journal:
        journal.record(draft)
        journal.record(approved)
    files = {"vrai": approved, "forge": _forged(draft)}
    for name, item in files.items():
        (tmp_path / f"{name}.json").write_text(item.to_json(), encoding="utf-8")
    env = {**os.environ, "COURRIER_JOURNAL": str(journal_path)}
    genuine = _courrier("export", tmp_path / "vrai.json", "--format", "html", env=env)
    assert genuine.returncode == 0, genuine.stderr
    assert "BROUILLON" not in genuine.stdout
    forged = _courrier("export", tmp_path / "forge.json", "--format", "html", env=env)
    assert forged.returncode == 0, forged.stderr
    assert UNPROVEN_BANNER in forged.stdout
    assert "approbation non prouvée" in forged.stderr
    nowhere = {**os.environ, "COURRIER_JOURNAL": str(tmp_path / "absent.sqlite3")}
    unproven = _courrier("export", tmp_path / "vrai.json", "--format", "html", env=nowhere)
    assert UNPROVEN_BANNER in unproven.stdout
    assert not (tmp_path / "absent.sqlite3").exists()


def test_history_lists_overrides(draft: Draft, tmp_path: Path) -> None:
    journal_path = tmp_path / "agence.sqlite3"
    edited = draft.edit(
        "voies_recours", _text(draft, "voies_recours") + SIX_MONTHS, author="A", reason="r", override=True
    )
    with Journal(journal_path) as journal:
        journal.record(draft)
        journal.record(edited)
    result = _courrier("history", draft.id, "--journal", journal_path)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert "dérogation" not in first
    assert second.endswith("dérogation au texte validé : voies_recours")


def _resealed(draft: Draft, data: dict[str, object]) -> Draft:
    forged = Draft.model_validate(data)
    return forged.model_copy(update={"integrity": seal(forged.provenance)})


def test_a_signed_approval_exports_as_approved_whatever_the_default_journal(
    draft: Draft, tmp_path: Path
) -> None:
    from courrier.signing import generate_key_pair, load_private_key, sign_draft

    generate_key_pair(tmp_path / "k.pem", tmp_path / "k.pub")
    signed = sign_draft(draft.approve(by=APPROVER[0], role=APPROVER[1]), load_private_key(tmp_path / "k.pem"))
    (tmp_path / "signe.json").write_text(signed.to_json(), encoding="utf-8")
    with Journal(tmp_path / "autre.sqlite3"):
        pass  # a default journal exists, and lacks this draft
    env = {**os.environ, "COURRIER_JOURNAL": str(tmp_path / "autre.sqlite3")}
    result = _courrier(
        "export", tmp_path / "signe.json", "--format", "html", "--key", tmp_path / "k.pub", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "BROUILLON" not in result.stdout


def test_labels_and_reasons_cannot_hide_the_banner_or_break_a_comment(draft: Draft) -> None:
    data = json.loads(draft.to_json())
    hiding = '</p><style>.brouillon{display:none}</style><p class="brouillon">'
    data["provenance"]["required_mentions"].append({"label": hiding, "text": "jamais dans la lettre"})
    data["provenance"]["missing_mentions"] = [hiding]
    page = export_document(_resealed(draft, data), "html").decode()
    assert "<style>.brouillon" not in page
    assert "&lt;style&gt;" in page
    text = _text(draft, "voies_recours") + SIX_MONTHS
    edited = draft.edit(
        "voies_recours", text, author="A", reason="--><script>alert(1)</script><!--", override=True
    )
    markdown = export_document(edited, "md").decode()
    assert markdown.count("-->") == markdown.count("<!--")  # every comment closes where it should


def test_model_text_needs_a_model_in_the_record(draft: Draft) -> None:
    from courrier.testing import ScriptedChatModel

    helped = Drafter(library=shipped_library(), llm=ScriptedChatModel(responses=["Texte."] * 10)).draft(
        draft.request
    )
    data = json.loads(helped.to_json())
    data["provenance"]["model"] = None
    with pytest.raises(VerificationError, match="aucun modèle"):
        verify(_resealed(helped, data))


@pytest.mark.parametrize(("field", "value"), [("id", "abc\x1b[8m"), ("reason", "\u200b"), ("reason", " \t ")])
def test_invisible_ids_and_reasons_are_refused(draft: Draft, field: str, value: str) -> None:
    if field == "id":
        data = json.loads(draft.to_json())
        data["id"] = data["provenance"]["draft_id"] = value
        with pytest.raises(InvalidDraft):
            Draft.from_json(json.dumps(data))
        return
    with pytest.raises((LockedSection, InvalidInput)):
        draft.edit(
            "voies_recours",
            _text(draft, "voies_recours") + SIX_MONTHS,
            author="A",
            reason=value,
            override=True,
        )


def test_a_record_full_of_costly_patterns_is_refused_quickly(draft: Draft) -> None:
    data = json.loads(draft.to_json())
    data["provenance"]["required_mentions"] = [{"label": "x", "pattern": "\\w{990}z"}] * 300
    with pytest.raises(InvalidDraft) as caught:
        Draft.from_json(json.dumps(data))
    assert len(str(caught.value)) < 2_000  # the message names a few problems, not hundreds
