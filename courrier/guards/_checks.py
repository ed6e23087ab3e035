"""The guards on model output: a rephrased or filled section must pass every guard, or its vetted text stays.

Each guard is a cheap, deterministic check over plain text:

- `length`: the bounds of the section.
- `complete`: the model ended the text itself; a text cut off by the token budget, by the length
  bound, or by a guard while it was generated (see `refused_early`) is refused.
- `french`: a function-word heuristic (see `_french_problem`).
- `artefacts`: template syntax, placeholders, chat markers, markdown, tags, assistant phrasing, and
  invisible or control characters.
- `invented_items`: dates (relative ones too: « demain », « lundi », « la semaine prochaine »), amounts
  and numbers (digits or French number words from « deux »), article references, URLs, e-mails, phones,
  case references and proper names (capitalized words, but for the common words that begin a sentence)
  must come from the trusted sources or the vetted text, compared by normalized value:
  « 2 novembre 2026 » matches "2026-11-02", « 1 234,50 € » matches "1234.50", « deux » matches "2".
  A number followed by a unit (euros, jours, mois, heures…) must come with that unit, unless the source
  is that number alone (a raw value such as "7.48").
- `kept_items` (rephrase only): the vetted text's items are all still there.
- `mentions_kept`: the required mentions that the vetted text holds.
- `no_new_commitment`: legally loaded stems (accord-, refus-, rembours-…) absent from the sources.
- `no_citizen_copy`: no run of 8 words copied from the citizen's text.

Citizen text is never a source. The vetted text always is: the fallback passes every guard whose bounds
it fits. Items and words are compared in NFKC form (« １５０ » is 150), and reported as written. Every
regular expression runs in linear time, and `check_output` handles any unicode.

Known limits: a trusted bare number vouches for that number in any unit; « de 9 à 12 heures » gives
the unit to 12 only; « 7/7 » reads as a date; loose time promises (« prochainement ») and reworded
copies of the citizen's text pass; a section's instructions cannot vouch for words; common words at
the start of a sentence are never names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from ..record import GuardName, GuardVerdict, MentionSpec, missing_mentions
from ._items import TOKEN, WORD, Folded, Pool, describe, unique

_COPY_RUN = 8

EARLY_GUARDS: tuple[GuardName, ...] = ("artefacts", "invented_items", "no_new_commitment", "no_citizen_copy")
"""The guards whose refusal of the first sentences of a text stands whatever follows: what they find
there is still in the whole text. `refused_early` runs them while the text is being generated."""

CUT_OFF = frozenset({"length", "max_tokens", "interrupted"})
"""Finish reasons of a text the model did not end: its token budget (as OpenAI, llama.cpp, Ollama or
Anthropic and Gemini name it), or a stop while it was generating (length bound, check, timeout)."""


@dataclass(frozen=True)
class GuardContext:
    """What the guards compare a section's output with."""

    mode: Literal["rephrase", "fill"]
    vetted_text: str
    trusted_sources: tuple[str, ...]
    citizen_texts: tuple[str, ...]
    min_chars: int
    max_chars: int
    mentions: tuple[MentionSpec, ...]
    finish_reason: str | None = None
    """Why the model stopped, as it reported it (`CUT_OFF` for a text it did not end)."""

    @cached_property
    def folded_vetted(self) -> Folded:
        return Folded(self.vetted_text)

    @cached_property
    def folded_sources(self) -> tuple[Folded, ...]:
        """The vetted text and the trusted sources, folded once for every output checked against
        them (the checks made while a section is generated share one context)."""
        return (self.folded_vetted, *map(Folded, self.trusted_sources))


_FRENCH_WORDS = frozenset(
    {
        "le",
        "la",
        "les",
        "l",
        "de",
        "des",
        "du",
        "d",
        "un",
        "une",
        "et",
        "à",
        "au",
        "aux",
        "en",
        "dans",
        "pour",
        "par",
        "sur",
        "avec",
        "sans",
        "sous",
        "ne",
        "n",
        "pas",
        "plus",
        "que",
        "qu",
        "qui",
        "dont",
        "où",
        "ce",
        "cet",
        "cette",
        "ces",
        "c",
        "se",
        "sa",
        "ses",
        "leur",
        "leurs",
        "nous",
        "vous",
        "votre",
        "vos",
        "notre",
        "nos",
        "il",
        "ils",
        "elle",
        "elles",
        "y",
        "est",
        "sont",
        "été",
        "être",
        "avons",
        "avez",
        "ont",
        "ai",
        "je",
        "j",
        "mon",
        "ma",
        "mes",
        "si",
        "mais",
        "ou",
        "donc",
        "lui",
        "très",
        "tout",
        "toute",
        "tous",
        "toutes",
        "afin",
        "auprès",
        "chez",
        "entre",
        "vers",
    }
)
_ENGLISH_WORDS = frozenset(
    {
        "the",
        "and",
        "of",
        "to",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "you",
        "your",
        "we",
        "our",
        "us",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "with",
        "for",
        "from",
        "will",
        "would",
        "can",
        "could",
        "should",
        "have",
        "has",
        "had",
        "not",
        "at",
        "by",
        "in",
        "please",
        "thank",
        "thanks",
        "any",
        "my",
        "i",
        "he",
        "she",
        "they",
        "their",
        "them",
        "do",
        "does",
        "which",
        "what",
        "there",
        "here",
        "if",
        "into",
        "about",
    }
)
# fmt: on


def _latin(char: str) -> bool:
    return ord(char) < 0x250 or 0x1E00 <= ord(char) <= 0x1EFF


def _french_problem(text: str) -> str | None:
    """Why `text` does not read as French, or None.

    Heuristic: most visible characters are letters, nearly all letters are Latin, at least two distinct
    French function words make up at least a fifth of the words, and they outnumber English function
    words more than twice over.
    """
    visible = [char for char in text if not char.isspace()]
    letters = [char for char in visible if char.isalpha()]
    if len(letters) * 2 < len(visible) or sum(map(_latin, letters)) < 0.9 * len(letters):
        return "le texte est fait surtout d'autre chose que de lettres latines"
    words = [word.casefold() for word in WORD.findall(text)]
    french = [word for word in words if word in _FRENCH_WORDS]
    english = sum(word in _ENGLISH_WORDS for word in words)
    if len(set(french)) < 2 or len(french) * 5 < len(words) or len(french) <= 2 * english:
        counts = f"{len(french)} mots outils français, {english} anglais"
        return f"le texte ne se lit pas comme du français ({counts})"
    return None


# --- Artefacts --------------------------------------------------------------------------------------

_UPPER = "A-ZÀ-ÖØ-Þ"
_ARTEFACTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("syntaxe de modèle", re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|\$\{")),
    (
        "espace réservé",
        re.compile(
            rf"\[[ ]?[{_UPPER}][{_UPPER}0-9 _'’.-]{{0,60}}\]|\bX{{3,}}\b|_{{3,}}"
            r"|(?i:\[(?:nom|prénom|date|adresse|montant|référence|signature|ville)[^\]\n]{0,60}\])"
            r"|\{[^{}\n]{0,60}\}"
        ),
    ),
    ("délimiteur de données", re.compile(r"<<<|>>>")),
    (
        "marqueur de conversation",
        re.compile(
            r"<\|[^|\n]{0,40}\|>|\[/?INST\]|<</?SYS>>"
            r"|(?im:^[ \t]*(?:assistant|assistante|user|system|système|utilisateur)[ \t]*:)"
        ),
    ),
    ("balise", re.compile(r"</?[A-Za-z][\w-]{0,30}(?:\s[^<>\n]{0,200})?/?>")),
    ("mise en forme markdown", re.compile(r"\*\*|```|(?m:^[ \t]*(?:#{1,6}|[-*•])[ \t])")),
    (
        "formule d'assistant",
        re.compile(
            r"(?i:\ben\s+tant\s+qu['’]\s*(?:ia|intelligence\s+artificielle|assistante?)\b"
            r"|\ben\s+tant\s+que\s+(?:mod[eè]le|assistante?|programme|robot)\b"
            r"|\bje\s+suis\s+(?:une?\s+)?(?:ia|intelligence\s+artificielle|mod[eè]le\s+de\s+langage"
            r"|assistante?\s+virtuel(?:le)?|robot)\b"
            r"|\bmod[eè]le\s+de\s+langage\b|\blanguage\s+model\b|\bas\s+an?\s+(?:ai|assistant)\b"
            r"|\bvoici\s+(?:une|la|le|un|votre|ma|mon)\s+(?:nouvelle\s+)?"
            r"(?:reformulation|version|texte|paragraphe|réponse|proposition)\b"
            r"|^[ \t]*(?:reformulation|texte\s+reformulé|version\s+reformulée|réponse)[ \t]*:)",
            re.MULTILINE,
        ),
    ),
)


_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
"""Control, format (zero-width, bidi, soft hyphen…), surrogate, private-use and unassigned characters:
none belongs in a letter, and some split an item in two (a zero-width space inside « 115 € »)."""


def _invisible(text: str) -> Iterator[str]:
    """The code points of the invisible or control characters of `text` (line breaks and tabs aside)."""
    for char in text:
        if char not in "\n\t" and unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            yield f"U+{ord(char):04X}"


# --- Commitments ------------------------------------------------------------------------------------

_COMMITMENTS = {
    "accord": "accord",
    "accept": "accept",
    "favorable": "favorabl",
    "defavorable": "d[ée]favorabl",
    "rejet": "rejet|refus",
    "annulation": "annul",
    "remboursement": "rembours",
    "exoneration": "exon[ée]r",
    "derogation": "d[ée]rog",
    "autorisation": "autoris",
    "gratuite": r"gratuit|à\s+titre\s+gracieux",
    "indemnisation": "indemni",
    "promesse": "promet|promis|promesse",
    "garantie": "garanti",
    "engagement": "engag",
    "dedommagement": "d[ée]dommag",
    "sans_suite": r"sans\s+suite",
    "classement": "classé",
    "prise_en_charge": r"pr[ei]\w*\s+en\s+charge",
    "versement": r"(?:re)?vers(?:[eé]|ons\b)",
    "compensation": "compens",
    "reservation": "r[ée]serv",
    "attribution": "attribu",
    "octroi": "octro[iy]",
    "tolerance": "tol[ée]r",
    "exceptionnel": "exceptionnel",
    "offert": "offert",
}
"""Legally loaded stems (synonyms share a name: a refusal rephrased as a rejection is no new commitment)."""
_COMMITMENT = re.compile(
    r"(?i:\b(?:" + "|".join(f"(?P<{name}>{stem})" for name, stem in _COMMITMENTS.items()) + r")\w*)"
)


def _commitments(folded: Folded) -> Iterator[tuple[str, str]]:
    """(stem name, surface) of every loaded word of a text."""
    for match in _COMMITMENT.finditer(folded.text):
        assert match.lastgroup is not None
        yield match.lastgroup, folded.surface(*match.span())


# --- Guards -----------------------------------------------------------------------------------------


class _Check:
    """One output under check, with what several guards share computed once."""

    def __init__(self, text: str, context: GuardContext) -> None:
        self.raw = text
        self.context = context
        self.output = Folded(text)
        self.vetted = context.folded_vetted
        self.sources = context.folded_sources

    def length(self) -> GuardVerdict:
        size, low, high = len(self.raw), self.context.min_chars, self.context.max_chars
        if size < low:
            return _fail("length", f"texte trop court : {size} caractères (minimum {low})")
        if size > high:
            return _fail("length", f"texte trop long : {size} caractères (maximum {high})")
        return _pass("length")

    def complete(self) -> GuardVerdict:
        if self.context.finish_reason in CUT_OFF:
            return _fail("complete", f"texte interrompu avant sa fin ({self.context.finish_reason})")
        return _pass("complete")

    def french(self) -> GuardVerdict:
        problem = _french_problem(self.output.original)
        return _fail("french", problem) if problem else _pass("french")

    def artefacts(self) -> GuardVerdict:
        found = [
            (label, self.output.surface(*m.span()))
            for label, pattern in _ARTEFACTS
            for m in pattern.finditer(self.output.text)
        ]
        found += [("caractère invisible ou de contrôle", code) for code in _invisible(self.output.original)]
        if not found:
            return _pass("artefacts")
        labels = ", ".join(dict.fromkeys(label for label, _ in found))
        return _fail("artefacts", f"reste de génération : {labels}", (s for _, s in found))

    def invented_items(self) -> GuardVerdict:
        pool = Pool.of(self.sources)
        invented = [item for item in self.output.items if not pool.covers(item)]
        if not invented:
            return _pass("invented_items")
        described, surfaces = describe(invented)
        return _fail("invented_items", f"absent des données : {described}", surfaces)

    def kept_items(self) -> GuardVerdict:
        pool = Pool.of((self.output,))
        dropped = [item for item in self.vetted.items if not pool.covers(item)]
        if not dropped:
            return _pass("kept_items")
        described, surfaces = describe(dropped)
        return _fail("kept_items", f"perdu par rapport au texte validé : {described}", surfaces)

    def mentions_kept(self) -> GuardVerdict:
        mentions = self.context.mentions
        absent = set(missing_mentions(self.vetted.original, mentions))
        lost = [label for label in missing_mentions(self.output.original, mentions) if label not in absent]
        if not lost:
            return _pass("mentions_kept")
        return _fail("mentions_kept", f"mention obligatoire perdue : {' ; '.join(lost)}", lost)

    def no_new_commitment(self) -> GuardVerdict:
        allowed = {stem for source in self.sources for stem, _ in _commitments(source)}
        new = [surface for stem, surface in _commitments(self.output) if stem not in allowed]
        if not new:
            return _pass("no_new_commitment")
        return _fail(
            "no_new_commitment", f"terme engageant absent des données : {', '.join(unique(new))}", new
        )

    def no_citizen_copy(self) -> GuardVerdict:
        citizen = set().union(*(_ngrams(_tokens(Folded(text))) for text in self.context.citizen_texts))
        if not citizen:
            return _pass("no_citizen_copy")
        allowed = set().union(*(_ngrams(_tokens(source)) for source in self.sources))
        words = list(TOKEN.finditer(self.output.text))
        output = [word[0].casefold() for word in words]
        copied = [False] * len(words)
        for start in range(len(words) - _COPY_RUN + 1):
            run = tuple(output[start : start + _COPY_RUN])
            if run in citizen and run not in allowed:
                copied[start : start + _COPY_RUN] = [True] * _COPY_RUN
        runs = _runs(copied)
        if not runs:
            return _pass("no_citizen_copy")
        surfaces = [self.output.surface(words[first].start(), words[last].end()) for first, last in runs]
        return _fail("no_citizen_copy", f"{len(runs)} passage(s) recopié(s) du texte de l'usager", surfaces)


def _tokens(folded: Folded) -> list[str]:
    return [word.casefold() for word in TOKEN.findall(folded.text)]


def _ngrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + _COPY_RUN]) for i in range(len(words) - _COPY_RUN + 1)}


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) indexes of each run of True."""
    runs: list[tuple[int, int]] = []
    for index, flag in enumerate(flags):
        if not flag:
            continue
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def _fail(guard: GuardName, detail: str, items: Iterable[str] = ()) -> GuardVerdict:
    return GuardVerdict(guard=guard, passed=False, detail=detail, items=unique(items))


def _pass(guard: GuardName) -> GuardVerdict:
    return GuardVerdict(guard=guard, passed=True)


GUARDS: tuple[tuple[GuardName, Callable[[_Check], GuardVerdict]], ...] = (
    ("length", _Check.length),
    ("complete", _Check.complete),
    ("french", _Check.french),
    ("artefacts", _Check.artefacts),
    ("invented_items", _Check.invented_items),
    ("kept_items", _Check.kept_items),
    ("mentions_kept", _Check.mentions_kept),
    ("no_new_commitment", _Check.no_new_commitment),
    ("no_citizen_copy", _Check.no_citizen_copy),
)
"""Every guard and its check, in the order of `GUARD_NAMES` (a test holds them equal)."""

_REPHRASE_ONLY: frozenset[GuardName] = frozenset({"kept_items"})


def refused_early(text: str, context: GuardContext) -> bool:
    """Whether one of `EARLY_GUARDS` already refuses `text`, the first sentences of an output still
    being generated: the whole output will be refused, so generating the rest is wasted."""
    check = _Check(text, context)
    return any(not run(check).passed for name, run in GUARDS if name in EARLY_GUARDS)


def check_output(text: str, context: GuardContext) -> tuple[GuardVerdict, ...]:
    """Run every guard that applies to the mode, in the fixed order of `GUARD_NAMES`; one verdict each.

    `kept_items` applies to "rephrase" only; every other guard applies to both modes.
    """
    check = _Check(text, context)
    return tuple(
        run(check) for name, run in GUARDS if context.mode == "rephrase" or name not in _REPHRASE_ONLY
    )
