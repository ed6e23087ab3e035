"""French formatting filters, checked against an independent oracle and CLDR fr_FR spacing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from courrier.french import civilite, date_longue, montant, nombre

MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip
NNBSP, NBSP = "\u202f", "\xa0"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 3, 1), "1er mars 2026"),
        (dt.date(2026, 11, 22), "22 novembre 2026"),
        (dt.date(2027, 8, 2), "2 août 2027"),
    ],
)
def test_date_longue(day: dt.date, expected: str) -> None:
    assert date_longue(day) == expected


@given(st.dates())
def test_date_longue_matches_the_french_calendar(day: dt.date) -> None:
    ordinal = "1er" if day.day == 1 else str(day.day)
    assert date_longue(day) == f"{ordinal} {MONTHS[day.month - 1]} {day.year}"


def test_montant_uses_cldr_no_break_spaces() -> None:
    assert montant(Decimal("1234.56")) == f"1{NNBSP}234,56{NBSP}€"
    assert montant(35) == f"35,00{NBSP}€"


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_montant_round_trips(value: Decimal) -> None:
    text = montant(value)
    assert re.fullmatch(rf"\d{{1,3}}({NNBSP}\d{{3}})*,\d{{2}}{NBSP}€", text), text
    assert Decimal(text.removesuffix(f"{NBSP}€").replace(NNBSP, "").replace(",", ".")) == value


def test_nombre() -> None:
    assert nombre(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert nombre(Decimal("2.5")) == "2,5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Madame", "Madame"), ("Monsieur", "Monsieur"), (None, "Madame, Monsieur")],
)
def test_civilite(value: str | None, expected: str) -> None:
    assert civilite(value) == expected


@pytest.mark.parametrize("bad", ["2026-03-01", 3, None])
def test_date_longue_refuses_what_is_not_a_date(bad: object) -> None:
    with pytest.raises(TypeError):
        date_longue(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["12", True, 1.5])
def test_montant_refuses_what_is_not_a_decimal(bad: object) -> None:
    with pytest.raises(TypeError):
        montant(bad)  # type: ignore[arg-type]
