"""Shared input rules: clean strings, and pydantic errors turned into field problems."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from .errors import FieldProblem

__all__ = ["FrozenModel", "Line", "LongText", "Text", "problems_from"]


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


_MESSAGES = {
    "missing": "obligatoire",
    "extra_forbidden": "champ inconnu",
    "string_too_short": "ne doit pas être vide",
    "date_from_datetime_parsing": "date invalide (format attendu : AAAA-MM-JJ)",
    "date_parsing": "date invalide (format attendu : AAAA-MM-JJ)",
    "date_type": "date attendue (format AAAA-MM-JJ)",
    "decimal_parsing": "montant invalide (nombre attendu, ex. 1234.56)",
    "decimal_type": "montant attendu (nombre, ex. 1234.56)",
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "bool_parsing": "booléen attendu (true ou false)",
    "bool_type": "booléen attendu (true ou false)",
    "string_type": "texte attendu",
    "list_type": "liste attendue",
    "dict_type": "objet attendu",
    "model_type": "objet attendu",
    "json_invalid": "JSON invalide",
}


def problems_from(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """Turn a pydantic `ValidationError` into field problems with dotted paths and French text."""
    problems = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in ((prefix,) if prefix else ()) + tuple(item["loc"]))
        kind = item["type"]
        if kind == "value_error":
            message = str(item["ctx"]["error"]) if "ctx" in item else item["msg"]
        elif kind == "string_too_long":
            message = f"trop long (au plus {item['ctx']['max_length']} caractères)"
        elif kind == "too_long":
            message = f"trop d'éléments (au plus {item['ctx']['max_length']})"
        elif kind == "json_invalid":
            message = f"JSON invalide ({item['ctx']['error']})"
        elif kind == "literal_error":
            message = f"valeur non admise (attendu : {item['ctx']['expected']})"
        elif kind in {"greater_than_equal", "decimal_max_places", "decimal_max_digits"}:
            message = f"valeur non admise ({item['msg']})"
        else:
            message = _MESSAGES.get(kind, item["msg"])
        problems.append(FieldProblem(path or "(racine)", message))
    return problems
