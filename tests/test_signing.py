"""The optional ed25519 signature: DSSE over the record, key ids, key files, tampering, in-toto."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from courrier import Draft, Drafter, LetterRequest, UserError, VerificationError
from courrier.outputs import PREDICATE_TYPE, to_in_toto_statement
from courrier.record import canonical_json
from courrier.signing import (
    PAYLOAD_TYPE,
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_key,
    pae,
    sign_draft,
    signature_problem,
)

ROOT = Path(__file__).resolve().parent.parent
CHANGED = "signature invalide : le registre a changé depuis la signature"


@pytest.fixture(scope="module")
def draft() -> Draft:
    path = ROOT / "examples" / "requests" / "decision-defavorable.json"
    return Drafter(llm=None).draft(LetterRequest.model_validate_json(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def signed(draft: Draft, key: Ed25519PrivateKey) -> Draft:
    return sign_draft(draft, key)


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_pae_follows_the_dsse_example() -> None:
    expected = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    assert pae("http://example.com/HelloWorld", b"hello world") == expected


def test_a_signed_draft_verifies(draft: Draft, signed: Draft, key: Ed25519PrivateKey) -> None:
    assert draft.signature is None
    assert signed.provenance == draft.provenance
    assert signed.integrity == draft.integrity
    signature = signed.signature
    assert signature is not None
    assert signature.payload_type == PAYLOAD_TYPE
    assert signature.algorithm == "ed25519"
    assert signature.keyid == key_id(key.public_key()) == hashlib.sha256(raw(key)).hexdigest()
    assert signature_problem(signed, key.public_key()) is None
    assert signature_problem(Draft.from_json(signed.to_json()), key.public_key()) is None

    # any DSSE implementation checks it: ed25519 over PAE(type, canonical record)
    body = canonical_json(draft.provenance)
    message = b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(body), body)
    key.public_key().verify(base64.b64decode(signature.sig), message)


def test_a_changed_record_invalidates_the_signature(signed: Draft, key: Ed25519PrivateKey) -> None:
    entries = list(signed.provenance.paragraphs)
    digest = entries[0].text_sha256
    entries[0] = entries[0].model_copy(
        update={"text_sha256": ("1" if digest[0] == "0" else "0") + digest[1:]}
    )
    record = signed.provenance.model_copy(update={"paragraphs": tuple(entries)})
    tampered = signed.model_copy(update={"provenance": record})
    assert signature_problem(tampered, key.public_key()) == CHANGED


def test_a_garbled_signature_is_invalid(signed: Draft, key: Ed25519PrivateKey) -> None:
    assert signed.signature is not None
    garbled = signed.signature.model_copy(update={"sig": "pas du base64 !"})
    problem = signature_problem(signed.model_copy(update={"signature": garbled}), key.public_key())
    assert problem is not None
    assert problem.startswith("signature invalide")


def test_another_key_is_reported(signed: Draft) -> None:
    assert signed.signature is not None
    problem = signature_problem(signed, Ed25519PrivateKey.generate().public_key())
    assert problem is not None
    assert problem.startswith("signée par une autre clé")
    assert signed.signature.keyid in problem


def test_an_unsigned_draft_has_no_signature(draft: Draft, key: Ed25519PrivateKey) -> None:
    assert signature_problem(draft, key.public_key()) == "aucune signature"


def test_signing_refuses_a_record_that_does_not_match_its_seal(draft: Draft, key: Ed25519PrivateKey) -> None:
    record = draft.provenance.model_copy(update={"organisation": "Mairie de Port-Aurore"})
    with pytest.raises(VerificationError, match="sceau"):
        sign_draft(draft.model_copy(update={"provenance": record}), key)


def test_signing_refuses_a_key_that_is_not_ed25519(draft: Draft) -> None:
    with pytest.raises(UserError, match="ed25519"):
        sign_draft(draft, ec.generate_private_key(ec.SECP256R1()))  # type: ignore[arg-type]


def test_a_new_version_is_unsigned(signed: Draft) -> None:
    edited = signed.edit("contact", "Nos services restent à votre disposition.", author="Maëlle Kerouac")
    assert edited.signature is None
    assert signed.approve(by="Yannick Le Goff", role="Premier adjoint au maire").signature is None


def test_key_files_round_trip(tmp_path: Path, draft: Draft) -> None:
    private_path, public_path = tmp_path / "courrier.key", tmp_path / "courrier.pub"
    generate_key_pair(private_path, public_path)
    assert stat.S_IMODE(os.stat(private_path).st_mode) == 0o600
    assert private_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    private, public = load_private_key(private_path), load_public_key(public_path)
    assert key_id(private.public_key()) == key_id(public)
    assert signature_problem(sign_draft(draft, private), public) is None


def test_existing_key_files_are_not_overwritten(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "courrier.key", tmp_path / "courrier.pub"
    generate_key_pair(private_path, public_path)
    before = private_path.read_bytes(), public_path.read_bytes()
    with pytest.raises(UserError, match="existe déjà"):
        generate_key_pair(private_path, public_path)
    other = tmp_path / "autre.key"
    with pytest.raises(UserError, match="existe déjà"):
        generate_key_pair(other, public_path)
    assert not other.exists()
    assert (private_path.read_bytes(), public_path.read_bytes()) == before
    with pytest.raises(UserError, match="deux fichiers"):
        generate_key_pair(tmp_path / "même", tmp_path / "même")


def test_unreadable_key_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="introuvable"):
        load_private_key(tmp_path / "absente.key")
    with pytest.raises(UserError, match="introuvable"):
        load_public_key(tmp_path / "absente.pub")
    garbage = tmp_path / "pas-une-cle.pem"
    garbage.write_text("ceci n'est pas une clé\n")
    with pytest.raises(UserError, match="PEM"):
        load_private_key(garbage)
    with pytest.raises(UserError, match="PEM"):
        load_public_key(garbage)
    private_path, public_path = tmp_path / "courrier.key", tmp_path / "courrier.pub"
    generate_key_pair(private_path, public_path)
    with pytest.raises(UserError, match="PEM"):
        load_private_key(public_path)
    with pytest.raises(UserError, match="PEM"):
        load_public_key(private_path)


def test_other_kinds_of_keys_are_refused(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    private_path, public_path = tmp_path / "ec.key", tmp_path / "ec.pub"
    private_path.write_bytes(
        other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"x"))
    )
    with pytest.raises(UserError, match="chiffrée"):
        load_private_key(private_path)
    private_path.write_bytes(other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public_path.write_bytes(other.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(UserError, match="ed25519"):
        load_private_key(private_path)
    with pytest.raises(UserError, match="ed25519"):
        load_public_key(public_path)


def test_signing_without_cryptography_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed: Draft, key: Ed25519PrivateKey
) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(UserError, match=r"pip install 'courrier\[sign\]'"):
        generate_key_pair(tmp_path / "courrier.key", tmp_path / "courrier.pub")
    with pytest.raises(UserError, match="signature indisponible"):
        signature_problem(signed, key.public_key())


def test_the_in_toto_statement_names_the_letter(draft: Draft) -> None:
    statement = to_in_toto_statement(draft)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"] == [
        {
            "name": f"courrier-draft-{draft.id}-v1",
            "digest": {"sha256": hashlib.sha256(draft.text.encode("utf-8")).hexdigest()},
        }
    ]
    assert statement["predicate"] == json.loads(draft.provenance.model_dump_json())
    assert json.loads(json.dumps(statement)) == statement
