"""Shared input rules: clean strings, and pydantic errors turned into field problems."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from .errors import FieldProblem

__all__ = ["FALLBACK", "MESSAGES", "FrozenModel", "Line", "LongText", "Text", "message_for", "problems_from"]


class FrozenModel(BaseModel):
    """The base of courrier's data models: immutable, and unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_FORBIDDEN = re.compile(
    "[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufdd0-\\ufdef"
    + "".join(f"\\U{plane << 16 | 0xFFFE:08x}\\U{plane << 16 | 0xFFFF:08x}" for plane in range(17))
    + "]"
)
"""Control characters (Unicode category Cc) but line feed and tab, surrogates (Cs), and noncharacters
(U+FDD0–U+FDEF, U+xFFFE and U+xFFFF in every plane): never text."""


def _reject_control_characters(value: str) -> str:
    forbidden = _FORBIDDEN.search(value)
    if forbidden is not None:
        raise ValueError(f"caractère de contrôle interdit (U+{ord(forbidden.group()):04X})")
    return value


def _reject_line_breaks(value: str) -> str:
    if "\n" in value:
        raise ValueError("une seule ligne attendue (pas de retour à la ligne)")
    return value


Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_reject_control_characters),
    AfterValidator(_reject_line_breaks),
]
"""One line of text, as in an address, a name or a short fact (at most 500 characters)."""

Text = Annotated[str, AfterValidator(_reject_control_characters)]
"""Text of any length and shape whose characters are all printable or line breaks and tabs."""

LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000),
    AfterValidator(_reject_control_characters),
]
"""Free text over several lines, such as a citizen's message (at most 10,000 characters)."""


_DATE = "date invalide (format attendu : AAAA-MM-JJ)"
_DATETIME = "date et heure invalides (format attendu : AAAA-MM-JJTHH:MM:SS, avec le fuseau)"
_AMOUNT = "montant invalide (nombre attendu, ex. 1234.56)"

MESSAGES: dict[str, str] = {
    # Structure: fields, objects, lists.
    "missing": "obligatoire",
    "extra_forbidden": "champ inconnu",
    "model_type": "objet attendu",
    "model_attributes_type": "objet attendu",
    "dict_type": "objet attendu",
    "list_type": "liste attendue",
    "tuple_type": "liste attendue",
    "too_short": "au moins {min_length} élément(s) attendu(s), {actual_length} donné(s)",
    "too_long": "trop d'éléments (au plus {max_length})",
    "none_required": "doit être null",
    "is_instance_of": "valeur d'un type non admis",
    "union_tag_invalid": "type non admis ({tag})",
    "union_tag_not_found": "champ {discriminator} obligatoire",
    "recursion_loop": "structure circulaire",
    # Text.
    "string_type": "texte attendu",
    "string_unicode": "texte attendu (encodage UTF-8 invalide)",
    "string_too_short": "trop court (au moins {min_length} caractère(s))",
    "string_too_long": "trop long (au plus {max_length} caractères)",
    "string_pattern_mismatch": "forme non admise (motif attendu : {pattern})",
    "literal_error": "valeur non admise (attendu : {expected})",
    # Numbers and booleans.
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_parsing_size": "nombre entier trop grand",
    "int_from_float": "nombre entier attendu (sans partie décimale)",
    "float_type": "nombre attendu",
    "float_parsing": "nombre attendu",
    "finite_number": "nombre fini attendu",
    "decimal_type": "montant attendu (nombre, ex. 1234.56)",
    "decimal_parsing": _AMOUNT,
    "decimal_max_digits": "au plus {max_digits} chiffres",
    "decimal_max_places": "au plus {decimal_places} décimale(s)",
    "decimal_whole_digits": "au plus {whole_digits} chiffre(s) avant la virgule",
    "greater_than": "doit être supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "multiple_of": "doit être un multiple de {multiple_of}",
    "bool_type": "booléen attendu (true ou false)",
    "bool_parsing": "booléen attendu (true ou false)",
    # Dates.
    "date_type": "date attendue (format AAAA-MM-JJ)",
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": "date sans heure attendue (format AAAA-MM-JJ)",
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_aware": "date et heure avec fuseau horaire attendues",
    "timezone_naive": "date et heure sans fuseau horaire attendues",
    # Our own validators, and the JSON itself.
    "value_error": "{error}",
    "assertion_error": "{error}",
    "json_invalid": "JSON invalide ({error})",
    "json_type": "JSON attendu (texte ou octets)",
}
"""The French message of each pydantic error type that courrier's models can raise, formatted with the
error's context (`_context` puts that context in French first)."""

FALLBACK = "valeur invalide ({type})"
"""The message of an error type missing from `MESSAGES`: still French, and naming the type."""

_JSON_POSITION = re.compile(r"^(?P<reason>.*?)(?: at line (?P<line>\d+) column (?P<column>\d+))?$")

_JSON_REASONS = (
    ("EOF while parsing", "fin du texte inattendue"),
    ("expected value", "valeur attendue"),
    ("expected ident", "valeur attendue (true, false ou null)"),
    ("expected `:`", "« : » attendu"),
    ("expected `,` or `]`", "« , » ou « ] » attendu"),
    ("expected `,` or `}`", "« , » ou « } » attendu"),
    ("key must be a string", "clé entre guillemets attendue"),
    ("trailing comma", "virgule en trop"),
    ("trailing characters", "texte après la fin du JSON"),
    ("control character", "caractère de contrôle dans une chaîne"),
    ("invalid escape", "séquence d'échappement invalide"),
    ("invalid unicode code point", "caractère Unicode invalide"),
    ("lone leading surrogate", "caractère Unicode invalide"),
    ("invalid number", "nombre invalide"),
    ("number out of range", "nombre hors limites"),
    ("recursion limit exceeded", "imbrication trop profonde"),
)
"""The JSON parser's reasons, by how they begin, in French."""


def _json_reason(error: str) -> str:
    """The French reason and place of a JSON parse error (« fin du texte inattendue, ligne 1, colonne 7 »)."""
    match = _JSON_POSITION.match(error)
    reason = match["reason"] if match else error
    french = next((text for prefix, text in _JSON_REASONS if reason.startswith(prefix)), "syntaxe invalide")
    if match and match["line"] is not None:
        return f"{french}, ligne {match['line']}, colonne {match['column']}"
    return french


def _or(expected: str) -> str:
    """Pydantic's list of admitted values (« 'a', 'b' or 'c' ») with « ou »."""
    head, separator, last = expected.rpartition(" or ")
    return f"{head} ou {last}" if separator else expected


def _context(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """The error's context, ready for its French message."""
    if kind == "json_invalid":
        return {**context, "error": _json_reason(str(context.get("error", "")))}
    if kind == "literal_error":
        return {**context, "expected": _or(str(context["expected"]))}
    return context


def message_for(kind: str, context: dict[str, Any] | None = None) -> str:
    """The French message of one pydantic error, from its type and context."""
    template = MESSAGES.get(kind)
    if template is None:
        return FALLBACK.format(type=kind)
    if kind == "string_too_short" and (context or {}).get("min_length") == 1:
        return "ne doit pas être vide"
    try:
        return template.format(**_context(kind, context or {}))
    except (KeyError, IndexError):  # a context without the keys the message names
        return FALLBACK.format(type=kind)


def problems_from(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """Turn a pydantic `ValidationError` into field problems with dotted paths and French text."""
    problems = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in ((prefix,) if prefix else ()) + tuple(item["loc"]))
        problems.append(FieldProblem(path or "(racine)", message_for(item["type"], item.get("ctx"))))
    return problems
