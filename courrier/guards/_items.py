"""French items in a text: dates, amounts and numbers, units, article references, URLs, e-mails,
phones, case references and proper names, extracted in NFKC form and compared by normalized value.

This is the part of the guards that changes most (new date shapes, new units); it knows nothing of
verdicts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property, partial
from typing import Literal

from ._words import WORD, Word, known, words_of

_MAX_ITEMS = 10
TOKEN = re.compile(r"\w+")


_FOREIGN_DIGIT = re.compile(r"[^\D0-9]")


def _fold(char: str) -> str:
    """A character in NFKC form, its decimal digits made ASCII: « １ », « 𝟏 », « ١ » are 1."""
    return "".join(
        str(unicodedata.decimal(c)) if c.isdecimal() else c for c in unicodedata.normalize("NFKC", char)
    )


class Folded:
    """A text in NFC form (`original`) and folded for comparison (`text`), character by character (see
    `_fold`): « １５０ » reads 150, a no-break space reads as a space."""

    def __init__(self, text: str) -> None:
        self.original = unicodedata.normalize("NFC", text)
        self.text = self.original
        self._origins: range | list[int] = range(len(self.original))
        if not unicodedata.is_normalized("NFKC", self.original) or _FOREIGN_DIGIT.search(self.original):
            pieces = list(map(_fold, self.original))
            self.text = "".join(pieces)
            self._origins = [index for index, piece in enumerate(pieces) for _ in piece]

    def surface(self, start: int, end: int) -> str:
        """The original of `text[start:end]` (not empty)."""
        return self.original[self._origins[start] : self._origins[end - 1] + 1]

    @cached_property
    def items(self) -> list[_Item]:
        return _extract(self)

    @cached_property
    def words(self) -> list[Word]:
        return words_of(self.text)

    @cached_property
    def folded_words(self) -> list[str]:
        """The words casefolded and without accents, as the word lists compare them."""
        return [word.folded for word in self.words]


# --- Items -------------------------------------------------------------------------------------------

_ItemKind = Literal[
    "date",
    "day_month",
    "month_year",
    "month",
    "relative",
    "number",
    "article",
    "url",
    "email",
    "phone",
    "code",
    "name",
]

_KIND_LABELS: dict[_ItemKind, str] = {
    "date": "date",
    "day_month": "date",
    "month_year": "date",
    "month": "mois",
    "relative": "date",
    "number": "nombre ou montant",
    "article": "article",
    "url": "adresse web",
    "email": "courriel",
    "phone": "téléphone",
    "code": "référence",
    "name": "nom propre",
}


@dataclass(frozen=True)
class _Item:
    kind: _ItemKind
    key: Hashable
    surface: str
    span: tuple[int, int] = field(default=(0, 0), compare=False)
    """Where the item is in the folded text."""


_MONTHS = {
    "janvier": 1,
    "janv": 1,
    "février": 2,
    "fevrier": 2,
    "févr": 2,
    "fevr": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "décembre": 12,
    "decembre": 12,
    "déc": 12,
    "dec": 12,
}
"""Month names, and their abbreviations (written with or without a period)."""
_MONTH = "(?P<month>" + "|".join(_MONTHS) + r")(?!\w)"
_FULL_MONTHS = "|".join(
    name for name in _MONTHS if len(name) > 4 or name in {"mars", "mai", "juin", "août", "aout"}
)
"""Month names written out, which alone name a month: « avant la mi-janvier »."""
_DAY = "(?P<day>1er|premier|[0-9]{1,2})"

_UNITS = {
    "€": "euro",
    "euros": "euro",
    "euro": "euro",
    "eur": "euro",
    "jours": "jour",
    "jour": "jour",
    "semaines": "semaine",
    "semaine": "semaine",
    "mois": "mois",
    "années": "an",
    "année": "an",
    "ans": "an",
    "an": "an",
    "heures": "heure",
    "heure": "heure",
    "h": "heure",
    "minutes": "minute",
    "minute": "minute",
    "min": "minute",
    "trimestres": "trimestre",
    "trimestre": "trimestre",
    "kilomètres": "kilomètre",
    "kilomètre": "kilomètre",
    "km": "kilomètre",
    "mètres": "mètre",
    "mètre": "mètre",
    "%": "pour cent",
    "pour cent": "pour cent",
    "centimes": "centime",
    "centime": "centime",
}
"""The units a number is keyed by (« 9 h » and « 9 heures » are one), and their spellings."""
_UNIT = (
    r"(?:[ ]?(?:(?i:derni|premi)\w*[ ])?(?P<unit>(?i:"
    + "|".join(map(re.escape, _UNITS))
    + r"))(?![^\W\d_]))?"
)
"""The unit after a number, if any, past an adjective: « trois derniers mois »."""

_WEEKDAYS = "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
_PERIODS = rf"{_WEEKDAYS}|jour|semaine|mois|année|an|trimestre"
_URL_TAIL = '[^\\s<>"«»]*[^\\s<>"«».,;:!?)\'’]'
"""The rest of a URL, up to a space, less its trailing punctuation."""


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _day(match: re.Match[str]) -> int:
    day = match["day"]
    return int(day) if day.isdecimal() else 1  # « 1er », « premier »


def _month(match: re.Match[str]) -> int:
    month = match["month"]
    return int(month) if month.isdecimal() else _MONTHS[month.casefold()]


def _parse_iso(match: re.Match[str]) -> dt.date | None:
    return _date(int(match["year"]), int(match["month"]), int(match["day"]))


def _parse_numeric_date(match: re.Match[str]) -> dt.date | None:
    year = int(match["year"])
    return _date(year + 2000 if year < 100 else year, int(match["month"]), int(match["day"]))


def _parse_long_date(match: re.Match[str]) -> dt.date | None:
    return _date(int(match["year"]), _month(match), _day(match))


def _parse_day_month(match: re.Match[str]) -> tuple[int, int] | None:
    """« 18 novembre », « 18 nov. », « 18/11 »; the day is checked against a leap year, so that
    29 février is a date."""
    month, day = _month(match), _day(match)
    return (month, day) if _date(2000, month, day) else None


def _parse_month_year(match: re.Match[str]) -> tuple[int, int]:
    return (int(match["year"]), _month(match))


def _parse_relative(match: re.Match[str]) -> str:
    """« la semaine prochaine » and « la prochaine semaine » read "prochain semaine", « les lundis »
    "lundi"."""
    period = match["ahead"] or match["after"]
    if period:
        return "prochain " + period.casefold()
    return (match["weekday"] or " ".join(match[0].split())).casefold()


def _parse_article(match: re.Match[str]) -> str:
    return (match["prefix"] or "").upper() + match["number"]


def _parse_code(match: re.Match[str]) -> str | None:
    surface = match[0]
    has_digit = any("0" <= char <= "9" for char in surface)
    return surface.casefold() if has_digit and any(char.isalpha() for char in surface) else None


def _unit(match: re.Match[str]) -> str | None:
    return _UNITS[match["unit"].casefold()] if match["unit"] else None


def _parse_number(match: re.Match[str]) -> tuple[Decimal, str | None] | None:
    try:
        value = Decimal(match["value"].replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    return value, _unit(match)


def _parse_phone(match: re.Match[str]) -> str:
    digits = "".join(char for char in match[0] if "0" <= char <= "9")
    return "0" + digits[-9:]


def _parse_url(match: re.Match[str]) -> str:
    url = match[0].casefold()
    url = re.sub(r"^https?://", "", url)
    return url.removeprefix("www.").rstrip("/")


def _parse_email(match: re.Match[str]) -> str:
    return match[0].casefold()


_Parser = Callable[[re.Match[str]], Hashable | None]

# Extractors run in this order; each one masks what it found, so that the digits of a date or a phone
# are not read again as bare numbers. A match's item is its "value" group where it has one (a number
# without its unit), else the whole match.
_EXTRACTORS: tuple[tuple[_ItemKind, re.Pattern[str], _Parser], ...] = (
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), _parse_email),
    ("url", re.compile(rf"(?i:(?<![\w./])(?:https?://|www\.){_URL_TAIL})"), _parse_url),
    (
        "url",  # A bare domain, any top-level domain: « mairie.paris », « exemple.gouv.fr ».
        re.compile(rf"(?<![\w.@/-])[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{{2,24}}(?![\w-])(?:/{_URL_TAIL})?"),
        _parse_url,
    ),
    (
        "phone",
        re.compile(r"(?<![0-9+])(?:\+33[ .]?(?:\(0\)[ .]?)?|0)[1-9](?:[ .-]?[0-9]{2}){4}(?![0-9])"),
        _parse_phone,
    ),
    (
        "date",
        re.compile(r"(?<![0-9])(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})(?![0-9])"),
        _parse_iso,
    ),
    (
        "date",
        re.compile(
            r"(?<![0-9])(?P<day>[0-9]{1,2})(?P<sep>[/.])(?P<month>[0-9]{1,2})(?P=sep)"
            r"(?P<year>[0-9]{4}|[0-9]{2})(?![0-9])"
        ),
        _parse_numeric_date,
    ),
    (
        "day_month",
        re.compile(r"(?<![0-9/.,])(?P<day>[0-9]{1,2})/(?P<month>[0-9]{1,2})(?![0-9/])"),
        _parse_day_month,
    ),
    (
        "date",
        re.compile(rf"(?i:(?<!\w){_DAY} +{_MONTH}\.? +(?P<year>[0-9]{{4}})(?![0-9]))"),
        _parse_long_date,
    ),
    ("day_month", re.compile(rf"(?i:(?<!\w){_DAY} +{_MONTH})"), _parse_day_month),
    ("month_year", re.compile(rf"(?i:\b{_MONTH}\.? +(?P<year>[0-9]{{4}})(?![0-9]))"), _parse_month_year),
    ("month", re.compile(rf"(?i:\b(?P<month>{_FULL_MONTHS})(?!\w))"), _month),
    (
        "relative",
        re.compile(
            r"(?i:\b(?:(?:après|avant)-)?(?:demain|hier)\b|\b(?:huitaine|quinzaine)\b"
            r"|\bdans +les +(?:meilleurs|plus +brefs) +d[ée]lais\b"
            rf"|\bprochaine?s? +(?P<ahead>{_PERIODS})s?\b|\b(?P<after>{_PERIODS})s? +prochaine?s?\b"
            rf"|\b(?P<weekday>{_WEEKDAYS})s?\b)"
        ),
        _parse_relative,
    ),
    (
        "article",
        re.compile(
            r"\b(?i:articles?|art\.) *(?:(?P<prefix>[LRD]) ?\.? ?)?(?P<number>[0-9]+(?:-[0-9]+)*)(?![0-9])"
        ),
        _parse_article,
    ),
    (
        "article",
        re.compile(r"(?<!\w)(?P<prefix>[LRD]) ?\.? ?(?P<number>[0-9]{1,4}(?:-[0-9]+)+)(?![0-9])"),
        _parse_article,
    ),
    ("code", re.compile(r"(?<![\w-])[^\W_]+(?:[-/_][^\W_]+)+"), _parse_code),
    (
        "number",
        re.compile(
            rf"(?<![0-9])(?P<value>(?:[0-9]{{1,3}}(?: [0-9]{{3}})+|[0-9]+)(?:[.,][0-9]+)?)(?![0-9]){_UNIT}"
        ),
        _parse_number,
    ),
)

_SPACE = re.compile(r"\s")
ORDINARY_CAPITALIZED = frozenset(
    {"madame", "monsieur", "mesdames", "messieurs", "mademoiselle", "mme", "mmes", "mlle", "m", "mm"}
    | {"maître", "me", "docteur", "dr"}
)
"""Capitalized words of any French letter that name nobody."""
# Words that begin French sentences, casefolded: a capitalized word at the start of a sentence names
# nobody if it is one of these (« N'hésitez » is "n" and "hésitez").
# fmt: off
_SENTENCE_STARTERS = frozenset({
    "le", "la", "les", "l", "un", "une", "des", "du", "de", "d", "au", "aux", "ce", "cet", "cette", "ces",
    "c", "mon", "ma", "mes", "ton", "ta", "tes", "son", "sa", "ses", "notre", "nos", "votre", "vos", "leur",
    "leurs", "quel", "quelle", "quels", "quelles", "quelque", "quelques", "chaque", "tout", "toute", "tous",
    "toutes", "aucun", "aucune", "nul", "nulle", "certain", "certaine", "certains", "certaines", "plusieurs",
    "divers", "diverses", "autre", "autres", "même", "mêmes", "tel", "telle", "tels", "telles", "tant", "je",
    "j", "n", "tu", "il", "ils", "elle", "elles", "on", "nous", "vous", "me", "m", "te", "t", "se", "s", "y",
    "en", "moi", "toi", "lui", "eux", "soi", "celui", "celle", "ceux", "celles", "ceci", "cela", "ça", "qui",
    "que", "qu", "quoi", "dont", "où", "lequel", "laquelle", "lesquels", "lesquelles", "rien", "personne",
    "chacun", "chacune", "à", "a", "après", "apres", "avant", "avec", "chez", "contre", "dans", "depuis",
    "derrière", "dès", "devant", "durant", "entre", "envers", "excepté", "hormis", "hors", "jusqu", "jusque",
    "malgré", "moyennant", "outre", "par", "parmi", "pendant", "pour", "près", "sans", "sauf", "selon",
    "sous", "suivant", "sur", "vers", "via", "vu", "concernant", "conformément", "grâce", "faute", "suite",
    "compte", "lors", "afin", "auprès", "quant", "face", "étant", "etant", "ayant", "considérant", "attendu",
    "agissant", "et", "ou", "mais", "donc", "or", "ni", "car", "comme", "lorsque", "lorsqu", "quand",
    "puisque", "puisqu", "quoique", "quoiqu", "si", "sinon", "tandis", "parce", "pourquoi", "comment",
    "combien", "soit", "ainsi", "alors", "aussi", "autrement", "bien", "cependant", "certes", "déjà",
    "désormais", "dorénavant", "enfin", "ensuite", "également", "egalement", "encore", "évidemment",
    "heureusement", "ici", "là", "malheureusement", "mieux", "moins", "naturellement", "néanmoins", "non",
    "notamment", "oui", "parfois", "particulièrement", "peut", "plus", "pourtant", "premièrement",
    "deuxièmement", "précisément", "puis", "seulement", "simplement", "souvent", "surtout", "toujours",
    "toutefois", "très", "trop", "actuellement", "aujourd", "finalement", "effectivement", "vraiment",
    "voici", "voilà", "abord", "ailleurs", "ci", "est", "sont", "était", "étaient", "sera", "seront",
    "serait", "ont", "avait", "aura", "aurait", "avons", "avez", "êtes", "sommes", "pouvez", "pourrez",
    "pouvons", "peuvent", "pourra", "pourrait", "doit", "doivent", "devez", "devrez", "devra", "devrait",
    "faut", "reste", "restent", "restons", "existe", "souhaitez", "souhaitons", "voulez", "trouverez",
    "recevrez", "agréez", "veuillez", "recevez", "merci", "sachez", "soyez", "sachant", "tenant", "restant",
    "espérant", "souhaitant", "comptant", "rappelant", "remerciant", "adressez", "appelez", "complétez",
    "conservez", "consultez", "contactez", "écrivez", "ecrivez", "envoyez", "faites", "gardez", "hésitez",
    "indiquez", "joignez", "notez", "oubliez", "pensez", "permettez", "prenez", "précisez", "présentez",
    "rappelez", "renvoyez", "retournez", "retrouvez", "signalez", "transmettez", "vérifiez", "bonjour",
    "cordialement", "respectueusement", "sincèrement", "bonne", "bon", "cher", "chère", "chers", "chères",
    "objet", "référence", "pièce", "pièces", "copie", "premier", "première", "premiers", "premières",
    "second", "seconde", "dernier", "dernière", "deuxième", "troisième"
})
# fmt: on
_ABBREVIATIONS = frozenset({"m", "mm", "mme", "mmes", "mlle", "me", "dr", "st", "ste", "cf"})
"""Words whose final period does not end a sentence (as do initials: « J. Dupont »)."""
_SENTENCE_ENDS = frozenset(".!?")
_OPENERS = " «“\"'‘’([—–-•*"


def _extract(folded: Folded) -> list[_Item]:
    """Every item of a text, in extractor order. Line breaks count as spaces, as the letter prints them."""
    text = _SPACE.sub(" ", folded.text)
    items: list[_Item] = []
    for kind, pattern, parse in _EXTRACTORS:
        text = pattern.sub(partial(_mask, kind=kind, parse=parse, folded=folded, items=items), text)
    text = _number_words(text, folded, items)
    items += _names(text, folded)
    return items


class _Token:
    """A word or a sign, as text2num reads a text."""

    def __init__(self, match: re.Match[str]) -> None:
        self.match = match

    def text(self) -> str:
        return self.match[0]

    def nt_separated(self, previous: _Token) -> bool:
        return False

    def not_a_number_part(self) -> bool:
        return False


_NUMBER_TOKEN = re.compile(r"[^\W\d_]+|[^\w\s]")
_UNIT_AFTER = re.compile(_UNIT)


def _number_words(text: str, folded: Folded, items: list[_Item]) -> str:
    """Numbers written in words (text2num's French parser): « quatre-vingt-dix », « vingt et un
    jours », « un mois ». « un » or « une » is a number only before a unit; ordinals are not numbers."""
    from text_to_num import find_numbers  # on first use, as in `_words`

    tokens = [_Token(match) for match in _NUMBER_TOKEN.finditer(text)]
    for found in find_numbers(tokens, "fr", 0.0):
        start, end = tokens[found.start].match.start(), tokens[found.end - 1].match.end()
        unit = _UNIT_AFTER.match(text, end)
        value, unit_name = Decimal(str(found.value)), _unit(unit) if unit else None
        if found.is_ordinal or (value == 1 and unit_name is None):
            continue
        items.append(_Item("number", (value, unit_name), folded.surface(start, end), (start, end)))
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _mask(match: re.Match[str], kind: _ItemKind, parse: _Parser, folded: Folded, items: list[_Item]) -> str:
    """Record the item `match` holds, if any, and blank it out."""
    key = parse(match)
    if key is None:
        return match[0]
    start, end = match.span("value") if "value" in match.re.groupindex else match.span()
    items.append(_Item(kind, key, folded.surface(start, end), match.span()))
    return " " * len(match[0])


def _starts_sentence(gap: str, previous: str | None) -> bool:
    """Whether a word preceded by `gap` (and by the word `previous`, if any) begins a sentence."""
    stripped = gap.rstrip(_OPENERS)
    if not stripped:
        return previous is None
    if stripped == "." and previous is not None:
        return not (len(previous) == 1 or previous.casefold() in _ABBREVIATIONS)
    return stripped[-1] in _SENTENCE_ENDS


def _names(masked: str, folded: Folded) -> Iterator[_Item]:
    """Capitalized words, except the ordinary words of a letter, and the words that begin a sentence
    and are French words (the lemmatizer's dictionary knows them): « Durand, notre juriste… » names
    someone, « Nous… » and « Donnez… » do not."""
    previous: re.Match[str] | None = None
    for word in WORD.finditer(masked):
        surface, key = word[0], word[0].casefold()
        gap = masked[previous.end() if previous else 0 : word.start()]
        initial = _starts_sentence(gap, previous[0] if previous else None)
        previous = word
        if not surface[0].isupper() or key in ORDINARY_CAPITALIZED:
            continue
        if not (initial and (key in _SENTENCE_STARTERS or known(key))):
            yield _Item("name", key, folded.surface(*word.span()), word.span())


def _words(folded: Folded) -> frozenset[str]:
    return frozenset(word.casefold() for word in WORD.findall(folded.text))


def _derived_keys(item: _Item) -> Iterator[tuple[str, Hashable]]:
    """The keys an item makes available: a full date also vouches for its day and month, its month and
    year, its month and its year; a number with a unit, for the bare number (never for the same number
    in another unit)."""
    yield item.kind, item.key
    if isinstance(item.key, dt.date):
        yield "day_month", (item.key.month, item.key.day)
        yield "month_year", (item.key.year, item.key.month)
        yield "month", item.key.month
        yield "year", item.key.year
    elif item.kind == "month_year" and isinstance(item.key, tuple):
        yield "month", item.key[1]
        yield "year", item.key[0]
    elif item.kind == "day_month" and isinstance(item.key, tuple):
        yield "month", item.key[0]
    elif item.kind == "number" and isinstance(item.key, tuple):
        yield "number", (item.key[0], None)


@dataclass(frozen=True)
class Pool:
    """The items of some texts, and their words, to test whether an item is covered."""

    keys: frozenset[tuple[str, Hashable]]
    words: frozenset[str]

    @classmethod
    def of(cls, texts: Iterable[Folded], identifiers: Iterable[Folded] = ()) -> Pool:
        """The items of `texts` and `identifiers`; the words of `texts` only (an identifier or a
        choice code vouches for no name)."""
        texts = tuple(texts)
        every = texts + tuple(identifiers)
        keys = frozenset(key for text in every for item in text.items for key in _derived_keys(item))
        return cls(keys, frozenset().union(*map(_words, texts)))

    def covers(self, item: _Item) -> bool:
        if item.kind == "name":
            return item.key in self.words
        if (item.kind, item.key) in self.keys:
            return True
        # A bare year is covered by any date in that year.
        if item.kind != "number" or not isinstance(item.key, tuple):
            return False
        value, unit = item.key
        return (
            unit is None
            and value == value.to_integral_value()
            and 1000 <= value <= 9999
            and ("year", int(value)) in self.keys
        )


def describe(items: Iterable[_Item]) -> tuple[str, tuple[str, ...]]:
    """A French detail (`label « surface »`, …) and the distinct surfaces, both capped."""
    kinds: dict[str, _ItemKind] = {}
    for item in items:
        kinds.setdefault(item.surface, item.kind)
    surfaces = unique(kinds)
    return ", ".join(f"{_KIND_LABELS[kinds[s]]} « {s} »" for s in surfaces), surfaces


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))[:_MAX_ITEMS]


# --- Language ---------------------------------------------------------------------------------------

# French function words (those shared with English: a, on, me, son, car, an, s, m… are left out), and
# English function words that are not French.
# fmt: off
