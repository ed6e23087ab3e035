"""Optional ed25519 signature of a draft's provenance record, as a detached DSSE v1 signature.

The signed payload is the RFC 8785 canonical JSON of the record (`canonical_json(draft.provenance)`),
with payload type `PAYLOAD_TYPE`; the signature covers its DSSE pre-authentication encoding
(https://github.com/secure-systems-lab/dsse/blob/master/protocol.md). The key id is the SHA-256 hex
of the raw 32-byte public key. Signing needs the `cryptography` package (``courrier[sign]``).
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ._canonical import canonical_json, sha256_hex
from ._draft import Draft
from ._files import MAX_KEY_BYTES, read_file, reason_of
from .errors import MissingDependency, OutputError, UserError
from .record import Signature

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "PAYLOAD_TYPE",
    "generate_key_pair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "pae",
    "sign_draft",
    "signature_problem",
]

PAYLOAD_TYPE = "application/vnd.courrier.provenance+json"
"""The DSSE payload type of a signed provenance record."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 hex of the raw 32-byte public key."""
    _require_cryptography()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return sha256_hex(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign_draft(draft: Draft, private_key: Ed25519PrivateKey) -> Draft:
    """A copy of `draft` carrying an ed25519 signature over its provenance record.

    `VerificationError` for a draft whose seal does not match its record: sign only what verifies.
    """
    _require_cryptography()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(private_key, Ed25519PrivateKey):
        raise UserError("signature impossible : la clé privée n'est pas une clé ed25519")
    draft.require_intact()
    signature = private_key.sign(pae(PAYLOAD_TYPE, canonical_json(draft.provenance)))
    return draft.model_copy(
        update={
            "signature": Signature(
                payload_type=PAYLOAD_TYPE,
                keyid=key_id(private_key.public_key()),
                sig=base64.b64encode(signature).decode("ascii"),
            )
        }
    )


def signature_problem(draft: Draft, public_key: Ed25519PublicKey) -> str | None:
    """None if `draft` carries a valid signature by `public_key` over its current record, else why not."""
    _require_cryptography()
    from cryptography.exceptions import InvalidSignature

    signature = draft.signature
    if signature is None:
        return "aucune signature"
    expected = key_id(public_key)
    if signature.keyid != expected:
        return f"signée par une autre clé (keyid {signature.keyid}, attendu {expected})"
    if signature.payload_type != PAYLOAD_TYPE:
        return f"signature invalide : type de contenu inattendu ({signature.payload_type})"
    try:
        raw = base64.b64decode(signature.sig, validate=True)
    except binascii.Error:
        return "signature invalide : encodage base64 incorrect"
    try:
        public_key.verify(raw, pae(PAYLOAD_TYPE, canonical_json(draft.provenance)))
    except InvalidSignature:
        return "signature invalide : le registre a changé depuis la signature"
    return None


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """An unencrypted ed25519 private key from a PEM (PKCS #8) file."""
    _require_cryptography()
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = read_file(Path(path), MAX_KEY_BYTES)
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError as error:
        raise UserError(f"clé privée {path} : clé chiffrée, non prise en charge") from error
    except (ValueError, UnsupportedAlgorithm) as error:
        raise UserError(f"clé privée {path} : fichier PEM de clé privée illisible") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"clé privée {path} : ce n'est pas une clé ed25519")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """An ed25519 public key from a PEM (SubjectPublicKeyInfo) file."""
    _require_cryptography()
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = read_file(Path(path), MAX_KEY_BYTES)
    try:
        key = load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise UserError(f"clé publique {path} : fichier PEM de clé publique illisible") from error
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"clé publique {path} : ce n'est pas une clé ed25519")
    return key


def generate_key_pair(private_path: str | os.PathLike[str], public_path: str | os.PathLike[str]) -> None:
    """Write a new ed25519 key pair as PEM files; the private one readable by its owner only (0o600).

    Refuses to overwrite an existing file.
    """
    _require_cryptography()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    private, public = Path(private_path), Path(public_path)
    if private.resolve() == public.resolve():
        raise UserError("les clés privée et publique doivent aller dans deux fichiers différents")
    for path in (private, public):
        if path.exists():
            raise UserError(f"{path} existe déjà : il ne sera pas écrasé")
    key = Ed25519PrivateKey.generate()
    _write_new(private, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()), 0o600)
    try:
        _write_new(
            public, key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo), 0o644
        )
    except UserError:
        private.unlink()
        raise


def _require_cryptography() -> None:
    if importlib.util.find_spec("cryptography") is None:
        raise MissingDependency("signature", "sign")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` (never an existing file) and write `data` to it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as error:
        raise UserError(f"{path} existe déjà : il ne sera pas écrasé") from error
    except OSError as error:
        raise OutputError(path, reason_of(error)) from error
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
