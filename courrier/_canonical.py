"""Canonical JSON and hashing: the contract behind every hash courrier records.

A value's hash is the SHA-256 of its RFC 8785 (JSON Canonicalization Scheme) serialization, a
pydantic model being taken in JSON mode. Changing either changes every hash recorded in past drafts
and journals.

The serializer is written here for speed (strings go through the standard library's C escaper, which
escapes exactly what RFC 8785 escapes); numbers that are not integers are written by the `rfc8785`
package, and the tests check the whole serializer against that package.
"""

from __future__ import annotations

import hashlib
from json.encoder import encode_basestring
from typing import Any

import rfc8785
from pydantic import BaseModel

from .errors import FieldProblem, InvalidInput

__all__ = [
    "Canonical",
    "canonical_json",
    "canonical_text",
    "encode",
    "sha256_hex",
    "sha256_of",
    "text_sha256",
]


def canonical_json(value: BaseModel | Any) -> bytes:
    """RFC 8785 canonical JSON of a pydantic model (in JSON mode) or of plain JSON data.

    `InvalidInput` for a value that RFC 8785 cannot represent: an integer beyond ±(2**53 - 1), which
    JSON readers would round, a float that is not finite, a lone surrogate, a key that is not text.
    """
    return encode(canonical_text(value.model_dump(mode="json") if isinstance(value, BaseModel) else value))


class Canonical:
    """A part of a value already in canonical form, written as is (see `seal`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def canonical_text(value: Any) -> str:
    pieces: list[str] = []
    try:
        _write(value, pieces)
    except (rfc8785.CanonicalizationError, TypeError) as error:
        raise _out_of_domain(error) from error
    return "".join(pieces)


def _write(value: Any, pieces: list[str]) -> None:
    if isinstance(value, str):
        pieces.append(encode_basestring(value))
    elif isinstance(value, dict):
        separator = "{"
        for key in _sorted_keys(value):
            pieces.extend((separator, encode_basestring(key), ":"))
            _write(value[key], pieces)
            separator = ","
        pieces.append("}" if value else "{}")
    elif isinstance(value, list | tuple):
        separator = "["
        for item in value:
            pieces.append(separator)
            _write(item, pieces)
            separator = ","
        pieces.append("]" if value else "[]")
    elif value is None or isinstance(value, bool):
        pieces.append(_LITERALS[value])
    elif isinstance(value, int):
        if not -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
            raise rfc8785.IntegerDomainError(value)
        pieces.append(str(int(value)))
    elif isinstance(value, float):
        pieces.append(rfc8785.dumps(value).decode("ascii"))
    elif isinstance(value, Canonical):
        pieces.append(value.text)
    else:
        raise TypeError(f"type {type(value).__name__} absent de JSON")


def _sorted_keys(mapping: dict[Any, Any]) -> list[str]:
    """The keys in RFC 8785 order, by their UTF-16 code units: Python's own order for ASCII keys."""
    try:
        if all(key.isascii() for key in mapping):
            return sorted(mapping)
        return sorted(mapping, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
    except AttributeError as error:
        raise TypeError("clé qui n'est pas du texte") from error


def encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _out_of_domain(error) from error


def _out_of_domain(error: Exception) -> InvalidInput:
    return InvalidInput([FieldProblem("(valeur)", f"hors du domaine du JSON canonique RFC 8785 ({error})")])


_SAFE_INTEGER = 2**53 - 1
_LITERALS = {None: "null", True: "true", False: "false"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of(value: BaseModel | Any) -> str:
    """SHA-256 of the canonical JSON of `value`: the hash contract of every record part."""
    return sha256_hex(canonical_json(value))


def text_sha256(text: str) -> str:
    """SHA-256 of a paragraph's text, encoded in UTF-8."""
    return sha256_hex(text.encode("utf-8"))
