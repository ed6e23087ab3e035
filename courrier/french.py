"""French formatting for letters, built on babel's CLDR data for fr_FR.

These functions are the filters that templates use: `date_longue`, `montant`, `nombre`, `civilite`.
Spacing follows CLDR: U+202F (narrow no-break space) between digit groups, U+00A0 before "€".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

__all__ = ["FILTERS", "civilite", "date_longue", "montant", "nombre"]

_FR = Locale.parse("fr_FR")


def date_longue(value: dt.date) -> str:
    """A date as French letters write it: « 1er mars 2026 », « 22 novembre 2026 »."""
    if not isinstance(value, dt.date):
        raise TypeError(f"date_longue attend une date, pas {type(value).__name__}")
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {format_date(value, 'MMMM y', locale=_FR)}"


def montant(value: Decimal | int) -> str:
    """An amount in euros: « 1 234,56 € »."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"montant attend un nombre, pas {type(value).__name__}")
    return format_currency(value, "EUR", locale=_FR)


def nombre(value: Decimal | int) -> str:
    """A number with French grouping and decimal comma: « 1 234 », « 2,5 »."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"nombre attend un nombre, pas {type(value).__name__}")
    return format_decimal(value, locale=_FR)


def civilite(value: str | None) -> str:
    """The civility to address someone: « Madame », « Monsieur », or « Madame, Monsieur » if unknown."""
    return value if value in {"Madame", "Monsieur"} else "Madame, Monsieur"


FILTERS = {
    "date_longue": date_longue,
    "montant": montant,
    "nombre": nombre,
    "civilite": civilite,
}
