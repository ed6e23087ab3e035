"""The guards on model output: a rephrased or filled section must pass every guard, or its vetted text stays.

A model may reword a section, never change what the letter says. Each guard is a deterministic check
over plain text, against the section's sources: its vetted text, and the letter's trusted values (the
facts as the letter writes them, the sender, the recipient). The citizen's own texts are never a
source; identifiers (references, choice codes, the template id) vouch for items, never for words.

- `length`: the bounds of the section.
- `complete`: the model ended the text itself (a text cut off by the token budget, the length bound
  or a guard while it was generated is refused), and it ends with a full stop.
- `french`: a function-word heuristic (see `_french_problem`).
- `artefacts`: template syntax, placeholders, chat markers, tags, links and brackets, any markdown,
  assistant phrasing; any character outside the French letter alphabet that the sources do not hold
  (invisible, combining, filler, small capital, other scripts), and words mixing scripts.
- `invented_items`: dates (relative ones and months too: « lundi », « la semaine prochaine »,
  « mi-janvier »), amounts and numbers (digits, or words read by text2num: « un mois », « vingt et un
  jours »), article references, URLs, e-mails, phones, case references and proper names must come
  from the sources, compared by normalized value (« 2 novembre 2026 » matches "2026-11-02"); a number
  with a unit must come with that unit.
- `kept_items` (rephrase only): the vetted text's items are all still there.
- `mentions_kept`: the required mentions that the vetted text holds.
- `supported`: every content word is supported by the sources or by the reviewed free vocabulary
  (`data/vocabulaire.toml`), compared by lemma and stem; the word is named when it is not.
- `polarity`: no decision contrary to the letter's (`decides`), no decision in a letter that makes
  none, and no negation added to or taken from a word of the sources (« répond » where the vetted
  text says « ne répond pas »; « sans rendez-vous » where the facts say « sur rendez-vous »).
- `no_new_commitment`: the commitment terms of `data/listes.toml` (accord, remboursement…) absent
  from the sources; a decision term that states the letter's own decision is not one.
- `no_listed_term`: the other closed lists of `data/listes.toml`: threats and sanctions,
  obligations, protected criteria (Code pénal art. 225-1), admissions of fault, discourteous terms,
  expressions of time and quantity, legal grounds; each refusal names the list and the word.
- `no_repetition`: no sentence or run of eight words said twice, no word three times in a row.
- `no_citizen_copy`: no run of eight words copied from the citizen's text.

Items and words are compared in NFKC form and reported as written. Every regular expression runs in
linear time, and `check_output` handles any unicode. The work on the sources is done once per letter
and once per vetted text (explicit caches); `EarlyCheck` checks only what was generated since its
last call.

What the guards still cannot see (the red team's findings that still pass): who does what with
words of the sources (« vous nous écrirez pour nous les demander »; the recipient named as the person
to contact; « nous vous autorisons » where the facts say « l'arrêté autorise »); items of the sources
swapped between roles when no word tells them apart (the distance of the rule and the distance of the
home, the hours of the market and of the request, « de 12 heures à 9 heures »); a change of scope or
quantity made with grammar words (« l'une de ces pièces » for « ces pièces »); in a partial letter,
which point is granted (« votre fils bénéficiera de la gratuité »); a place of the sources given as
the place to go; word salad and fragments made of the sources' own words; a negation scoped further
than the verb it bears on, or carried by a grammar word; a reworded copy of the citizen's text, or a
reply that misreads it; common words at the start of a sentence are never names.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

from ..record import Decision, GuardName, GuardVerdict, MentionSpec, missing_mentions
from ._items import ORDINARY_CAPITALIZED, TOKEN, Folded, Pool, describe, unique
from ._words import (
    WORD,
    Word,
    auxiliary,
    closed_lists,
    decision_terms,
    known,
    negations_before,
    restricted_clauses,
    vocabulary,
)

_COPY_RUN = 8

_ALLOWED_DECISIONS: dict[Decision, frozenset[str]] = {
    "acceptation": frozenset({"favorable"}),
    "refus": frozenset({"défavorable", "non favorable"}),
    "partielle": frozenset({"partielle", "non favorable"}),
    "aucune": frozenset(),
}
"""The decisions an output may state, for each kind of letter (more if its sources state them)."""

EARLY_GUARDS: tuple[GuardName, ...] = (
    "artefacts",
    "invented_items",
    "supported",
    "polarity",
    "no_new_commitment",
    "no_listed_term",
    "no_citizen_copy",
)
"""The guards whose refusal of the first sentences of a text stands whatever follows: what they find
there is still in the whole text. `EarlyCheck` runs them while the text is being generated."""

CUT_OFF = frozenset({"length", "max_tokens", "interrupted"})
"""Finish reasons of a text the model did not end: its token budget (as OpenAI, llama.cpp, Ollama or
Anthropic and Gemini name it), or a stop while it was generating (length bound, check, timeout)."""


@dataclass(frozen=True)
class GuardContext:
    """What the guards compare a section's output with."""

    mode: Literal["rephrase", "fill"]
    vetted_text: str
    trusted_sources: tuple[str, ...]
    """Values whose words and items an output may use: the facts as the letter writes them, the
    sender, the recipient."""
    citizen_texts: tuple[str, ...]
    min_chars: int
    max_chars: int
    mentions: tuple[MentionSpec, ...]
    finish_reason: str | None = None
    """Why the model stopped, as it reported it (`CUT_OFF` for a text it did not end)."""
    identifiers: tuple[str, ...] = ()
    """Values that vouch for items only: references, choice codes, raw values, the template id."""
    decides: Decision = "aucune"

    @cached_property
    def folded_vetted(self) -> Folded:
        return Folded(self.vetted_text)

    @cached_property
    def sources(self) -> _Sources:
        """The vetted text and the trusted sources, analysed: once per letter for the trusted values,
        once per vetted text (the checks made while a section is generated share one context)."""
        return _section(self.trusted_sources, self.identifiers, self.citizen_texts, self.vetted_text)


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
    ("balise", re.compile(r"</?[A-Za-z][\w-]{0,30}(?:\s[^<>\n]{0,200})?/?>|<!--|-->")),
    (
        "lien",
        re.compile(r"\[[^\]\n]{0,200}\]\([^)\n]{0,500}\)|(?i:\b(?:javascript|data|vbscript|file):)|\[|\]"),
    ),
    (
        "mise en forme markdown",
        re.compile(
            r"\*|`|~~|(?m:^[ \t]*(?:#{1,6}|[-•+>|])[ \t])|\|"
            r"|(?<!\w)_|_(?!\w)|(?m:^[ \t]*>)(?![ \t])"
        ),
    ),
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


# --- What the sources hold -------------------------------------------------------------------------

Polarity = Literal["favorable", "défavorable", "non favorable", "partielle", "autre"]
"""What a decision term states: « accordée » is favorable, « rejetée » défavorable, « ne peut pas
être accordée » non favorable (a refusal, which a partial letter may state of one of its points),
« n'est accueilli que sur un point » partielle; « irrecevable » another decision."""


@dataclass(frozen=True)
class _Analysis:
    """What some source texts hold, for every guard that compares an output with them."""

    folded: tuple[Folded, ...]
    polarities: dict[str, frozenset[bool]]
    """For each word key, whether the texts use it plainly (False), negated (True), or both."""
    groups: dict[str, frozenset[str]]
    """For each closed list, the groups of terms the texts use."""
    decisions: frozenset[tuple[str, Polarity]]
    conditions: frozenset[bool]
    """Whether the texts say that conditions are met (False), not met (True), or both."""
    restricts: bool
    """Whether the texts restrict with « ne … que »."""
    characters: frozenset[str]
    ngrams: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, texts: Iterable[str]) -> _Analysis:
        folded = tuple(map(Folded, texts))
        polarities: dict[str, set[bool]] = {}
        groups: dict[str, set[str]] = {}
        decisions: set[tuple[str, Polarity]] = set()
        conditions: set[bool] = set()
        restricts = False
        for text in folded:
            restricts = restricts or bool(restricted_clauses(text.words))
            conditions.update(negated for _, negated, _, _ in _conditions(text.words))
            for word in text.words:
                for key in word.keys:
                    polarities.setdefault(key, set()).add(word.negated)
            for term_list in closed_lists():
                groups.setdefault(term_list.name, set()).update(
                    g for g, _, _ in term_list.find(text.folded_words)
                )
            decisions.update((term, polarity) for term, polarity, _, _ in _decisions(text.words))
        return cls(
            folded,
            {key: frozenset(value) for key, value in polarities.items()},
            {name: frozenset(value) for name, value in groups.items()},
            frozenset(decisions),
            frozenset(conditions),
            restricts,
            frozenset(char for text in folded for char in text.original),
            frozenset().union(*(_ngrams(_tokens(text)) for text in folded)),
        )

    def merge(self, other: _Analysis) -> _Analysis:
        polarities = dict(self.polarities)
        for key, value in other.polarities.items():
            polarities[key] = polarities.get(key, frozenset()) | value
        names = self.groups.keys() | other.groups.keys()
        return _Analysis(
            self.folded + other.folded,
            polarities,
            {
                name: self.groups.get(name, frozenset()) | other.groups.get(name, frozenset())
                for name in names
            },
            self.decisions | other.decisions,
            self.conditions | other.conditions,
            self.restricts or other.restricts,
            self.characters | other.characters,
            self.ngrams | other.ngrams,
        )


@dataclass(frozen=True)
class _Sources:
    """A section's sources, analysed: its vetted text, the letter's trusted values and identifiers."""

    vetted: Folded
    words: _Analysis
    """The vetted text and the trusted values."""
    identifiers: tuple[Folded, ...]
    citizen_ngrams: frozenset[tuple[str, ...]]

    @cached_property
    def vetted_keys(self) -> frozenset[str]:
        return frozenset(key for word in self.vetted.words for key in word.keys)

    @cached_property
    def text_keys(self) -> tuple[frozenset[str], ...]:
        """The word keys of each trusted value, apart."""
        return tuple(
            frozenset(key for word in text.words if not word.function for key in word.keys)
            for text in self.words.folded[1:]
        )

    @cached_property
    def pool(self) -> Pool:
        return Pool.of(self.words.folded, self.identifiers)

    @cached_property
    def names(self) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        """The names of the sources: the words they write capitalized only and that are not common
        words (« lemoine »), and the pairs of capitalized words they write together (« claire
        lemoine »): a first name of one person joined to another's surname is no name of theirs."""
        capitalized: set[str] = set()
        lower: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for text in self.words.folded:
            previous: re.Match[str] | None = None
            addresses = _Spans(item.span for item in text.items if item.kind in {"email", "url"})
            for match in WORD.finditer(text.text):
                word = match[0]
                if match.start() in addresses:
                    continue  # « Contact@Exemple.fr » names nobody
                (capitalized if word[0].isupper() else lower).add(word.casefold())
                if (
                    previous
                    and word[0].isupper()
                    and previous[0][0].isupper()
                    and text.text[previous.end() : match.start()] in _NAME_JOINS
                ):
                    pairs.add((previous[0].casefold(), word.casefold()))
                previous = match
        function = vocabulary().function_words
        proper = frozenset(
            word for word in capitalized - lower if len(word) > 1 and word not in function and not known(word)
        )
        return proper, frozenset(pairs)

    @cached_property
    def attached(self) -> frozenset[tuple[str, str]]:
        """The (noun, name) of « noun de Name » in the sources: « collège de Fismes »."""
        return frozenset(
            (match["noun"].casefold(), match["name"].casefold())
            for text in self.words.folded
            for match in _ATTACHED_NAME.finditer(text.text)
        )

    @cached_property
    def capitals(self) -> frozenset[str]:
        """The words the sources write in capitals (« CADA », « TSA »)."""
        texts = (*self.words.folded, *self.identifiers)
        return frozenset(word for text in texts for word in WORD.findall(text.text) if word.isupper())

    @cached_property
    def characters(self) -> frozenset[str]:
        return self.words.characters.union(*(text.original for text in self.identifiers))


@dataclass(frozen=True)
class _Letter:
    trusted: _Analysis
    identifiers: tuple[Folded, ...]
    citizen_ngrams: frozenset[tuple[str, ...]]

    def with_vetted(self, vetted: _Analysis) -> _Sources:
        return _Sources(vetted.folded[0], vetted.merge(self.trusted), self.identifiers, self.citizen_ngrams)


@lru_cache(maxsize=32)
def _letter(trusted: tuple[str, ...], identifiers: tuple[str, ...], citizen: tuple[str, ...]) -> _Letter:
    """A letter's values, analysed once for all its sections (an explicit cache: a few letters)."""
    citizen_ngrams = frozenset().union(*(_ngrams(_tokens(Folded(text))) for text in citizen))
    return _Letter(_Analysis.of(trusted), tuple(map(Folded, identifiers)), citizen_ngrams)


@lru_cache(maxsize=256)
def _section(
    trusted: tuple[str, ...], identifiers: tuple[str, ...], citizen: tuple[str, ...], vetted: str
) -> _Sources:
    """A section's sources, once per section: the contexts of its attempts (`replace` with each
    finish reason) share them, and what `_Sources` derives (names, capitals) is derived once."""
    return _letter(trusted, identifiers, citizen).with_vetted(_vetted(vetted))


@lru_cache(maxsize=256)
def _vetted(text: str) -> _Analysis:
    return _Analysis.of((text,))


_CONDITION_NOUNS = frozenset(
    {"condition", "conditions", "critere", "criteres", "exigence", "exigences", "regle", "regles"}
)
_CONDITION_REACH = 10
"""How far from a verb such as « répond » a noun such as « conditions » makes it a statement that
conditions are met: « ne répond qu'en partie aux conditions », « cette condition n'est pas remplie »."""


def _conditions(words: Sequence[Word]) -> Iterator[tuple[str, bool, int, int]]:
    """(term, negated, first word, end word) of every statement that conditions are met or not; a
    partial one (« ne répond qu'en partie ») says both."""
    terms = decision_terms()
    folded = [word.folded for word in words]
    partial_clauses = {words[start].clause for _, start, _ in terms.partial.find(folded)}
    partial_clauses |= restricted_clauses(words)
    negations = negations_before(words)
    for term, start, end in terms.conditions.find(folded):
        clause = words[start].clause
        near = words[max(0, start - _CONDITION_REACH) : end + _CONDITION_REACH]
        if not any(word.clause == clause and word.folded in _CONDITION_NOUNS for word in near):
            continue  # « répondre à vos questions », « respecter un délai » state no condition
        if clause in partial_clauses:
            yield term, False, start, end
            yield term, True, start, end
            continue
        yield term, negations[start] % 2 == 1, start, end


def _decisions(words: Sequence[Word]) -> Iterator[tuple[str, Polarity, int, int]]:
    """(term, polarity, first word, end word) of every decision a text states: a favourable term
    under an odd number of negations of its clause is unfavourable, and the reverse; a favourable one
    restricted (« ne … que », « en partie ») is partial."""
    terms = decision_terms()
    folded = [word.folded for word in words]
    partial_clauses = {words[start].clause for _, start, _ in terms.partial.find(folded)}
    for term, start, end in terms.other.find(folded):
        yield term, "autre", start, end
    found = [
        (favourable, term, start, end)
        for favourable, term_list in ((True, terms.favourable), (False, terms.unfavourable))
        for term, start, end in term_list.find(folded)
    ]
    # « elle ne peut pas être acceptée le samedi, mais elle peut l'être le lundi »: « l'être » states
    # the decision of the term before it again, with its own clause's negations.
    for start in range(1, len(words)):
        if folded[start - 1 : start + 1] == ["l", "etre"]:
            before = [entry for entry in found if entry[2] < start]
            if before:
                favourable, term, _, _ = max(before, key=lambda entry: entry[2])
                found.append((favourable, term, start - 1, start + 1))
    partial_clauses |= restricted_clauses(words)
    negations = negations_before(words)
    for favourable, term, start, end in found:
        if words[start].clause in partial_clauses:
            yield term, "partielle", start, end
        elif favourable == (negations[start] % 2 == 0):
            yield term, "favorable", start, end
        else:
            yield term, "non favorable" if favourable else "défavorable", start, end


# --- Artefacts ------------------------------------------------------------------------------------

_ALPHABET = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ"
    " \n\t.,;:!?'’‘\"«»“”()-–—…/%€°º§&+@\u00a0\u202f"
)
"""The characters of a French letter. Any other must come from the sources (a name: « Nuñez »)."""

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me", "Zl", "Zp", "Zs"})
"""Control, format (zero-width, bidi, soft hyphen…), surrogate, private-use, unassigned, combining and
spacing characters: invisible in a letter, and some split an item or a word in two."""


def _unusual(char: str) -> str:
    category = unicodedata.category(char)
    kind = (
        "invisible"
        if category in _INVISIBLE_CATEGORIES or char in "\u3164\u115f\u1160\uffa0"
        else "inhabituel"
    )
    return f"{kind} U+{ord(char):04X}"


def _scripts(word: str) -> set[str]:
    """The scripts of a word's letters, as their Unicode names begin: LATIN, CYRILLIC, GREEK…"""
    return {unicodedata.name(char, "?").split(" ")[0] for char in word if char.isalpha()}


# --- Guards -----------------------------------------------------------------------------------------

_NAME_JOINS = frozenset({" ", "-", "\u00a0"})
"""What separates the words of one name: « Claire Lemoine », « Jean-Moulin »."""

_ATTACHED_NAME = re.compile(
    r"(?<![^\W\d_])(?P<noun>[^\W\d_]{3,}) (?:de|du|des|d['’]) ?(?:la |l['’] ?)?(?P<name>[A-ZÀ-ÖØ-Þ][^\W\d_]+)"
)
"""A name attached to a noun: « mairie de Fismes », « place de l'Église »."""

_FINAL_STOP = re.compile(r"[.!?…][»\"”’')\s]*$")
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")


class _Check:
    """One output under check, with what several guards share computed once."""

    def __init__(self, text: str, context: GuardContext) -> None:
        self.raw = text
        self.context = context
        self.output = Folded(text)
        self.vetted = context.folded_vetted
        self.sources = context.sources

    @cached_property
    def words(self) -> list[Word]:
        return self.output.words

    @cached_property
    def decisions(self) -> list[tuple[str, Polarity, int, int]]:
        return list(_decisions(self.words))

    def _surface(self, start: int, end: int) -> str:
        return self.output.surface(self.words[start].start, self.words[end - 1].end)

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
        if not _FINAL_STOP.search(self.raw.rstrip()):
            tail = self.raw.rstrip()[-20:]
            return _fail("complete", "texte sans point final : il semble coupé", [tail] if tail else [])
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
        allowed = self.sources.characters
        found += [
            (f"caractère {_unusual(char).split()[0]}", _unusual(char).split()[1])
            for char in dict.fromkeys(self.output.original)
            if char not in _ALPHABET and char not in allowed
        ]
        found += [
            ("mot en capitales absent des données", word)
            for word in dict.fromkeys(WORD.findall(self.output.text))
            if len(word) > 1 and word.isupper() and word not in self.sources.capitals
        ]
        found += [
            ("mélange d'écritures dans un mot", word)
            for word in dict.fromkeys(WORD.findall(self.output.original))
            if len(_scripts(word)) > 1
        ]
        if not found:
            return _pass("artefacts")
        labels = ", ".join(dict.fromkeys(label for label, _ in found))
        return _fail("artefacts", f"reste de génération : {labels}", (s for _, s in found))

    def invented_items(self) -> GuardVerdict:
        pool = self.sources.pool
        invented = [item for item in self.output.items if not pool.covers(item)]
        described, surfaces = describe(invented)
        names = [(label, surface) for label, surface in self._names()]
        if not invented and not names:
            return _pass("invented_items")
        detail = " ; ".join(
            filter(None, (f"absent des données : {described}" if invented else "", _grouped(names)))
        )
        return _fail("invented_items", detail, [*surfaces, *(surface for _, surface in names)])

    def _names(self) -> Iterator[tuple[str, str]]:
        """Names of the sources misused: written in lower case (« thomas bernard »), attached to
        another noun (« mairie de Fismes » where the facts say « collège de Fismes »), or a first name
        of one person joined to another's surname (« Claire Bernard »)."""
        proper, pairs = self.sources.names
        characters = list(self.output.text)
        for start, end in self._addresses.spans:
            characters[start:end] = " " * (end - start)
        text = "".join(characters)
        for word in dict.fromkeys(WORD.findall(text)):
            if word.islower() and word in proper:
                yield "nom propre écrit en minuscules", word
        named = proper | {word for pair in pairs for word in pair}
        for first, second in itertools.pairwise(WORD.finditer(text)):
            pair = (first[0].casefold(), second[0].casefold())
            if text[first.end() : second.start()] not in _NAME_JOINS:
                continue
            if first[0].islower() and second[0].islower() and pair in pairs:
                yield "nom propre écrit en minuscules", f"{first[0]} {second[0]}"
            elif (
                first[0][0].isupper()
                and second[0][0].isupper()
                and set(pair) <= named
                and pair not in pairs
                and pair[0] not in ORDINARY_CAPITALIZED
            ):
                yield "nom qui n'est pas celui d'une personne des données", f"{first[0]} {second[0]}"
        for match in _ATTACHED_NAME.finditer(text):
            attached = (match["noun"].casefold(), match["name"].casefold())
            if attached[1] in named and attached not in self.sources.attached:
                yield "nom rattaché à autre chose que dans les données", match[0]

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

    @cached_property
    def conditions(self) -> list[tuple[str, bool, int, int]]:
        return list(_conditions(self.words))

    @cached_property
    def decided(self) -> frozenset[int]:
        """The words of the decisions stated as the letter decides (« votre demande est refusée »
        in a refusal), of its partial terms in a partial letter, and of the conditions stated as the
        sources state them: the `polarity` guard has judged them, the other guards let them be."""
        allowed = _ALLOWED_DECISIONS[self.context.decides]
        spans = [(start, end) for _, polarity, start, end in self.decisions if polarity in allowed]
        if self.context.decides == "partielle":
            spans += [
                (start, end) for _, start, end in decision_terms().partial.find(self.output.folded_words)
            ]
        stated = self.sources.words.conditions
        spans += [(start, end) for _, negated, start, end in self.conditions if negated in stated]
        return frozenset(index for start, end in spans for index in range(start, end))

    @cached_property
    def _item_spans(self) -> _Spans:
        return _Spans(item.span for item in self.output.items if item.kind != "name")

    @cached_property
    def _addresses(self) -> _Spans:
        return _Spans(item.span for item in self.output.items if item.kind in {"email", "url"})

    def _in_item(self, word: Word) -> bool:
        """Whether a word is part of an item (a date, an e-mail…), which `invented_items` judges."""
        return word.start in self._item_spans

    def _in_address(self, word: Word) -> bool:
        """Whether a word is part of an e-mail or a web address: no word of a sentence. (The month
        of a date is: « l'arrêté du 2 novembre 2026 » moves the date of a receipt.)"""
        return word.start in self._addresses

    def supported(self) -> GuardVerdict:
        known = self.sources.words.polarities.keys() | vocabulary().free_keys
        unsupported = [
            self.output.surface(word.start, word.end)
            for index, word in enumerate(self.words)
            if not (word.function or word.covered or index in self.decided)
            and not self._in_item(word)
            and not word.keys & known
            and not vocabulary().justified(word.keys, self.sources.words.polarities.keys())
            and not (word.text in vocabulary().restrictive and self.sources.words.restricts)
        ]
        displaced = self._displaced()
        if not unsupported and not displaced:
            return _pass("supported")
        found = [("mot non justifié par les données", word) for word in unsupported]
        found += [("mot des données sorti de son contexte", word) for word in displaced]
        return _fail("supported", _grouped(found), (surface for _, surface in found))

    def _displaced(self) -> list[str]:
        """The words that only some trusted values hold (not the vetted text, not the free
        vocabulary) and that the output puts among none of the words those values write with them:
        « signalez-le à votre propriétaire » where the facts speak of « le relevé d'identité bancaire
        de votre propriétaire »."""
        vetted = self.sources.vetted_keys
        free = vocabulary().free_keys
        content = [
            (index, word) for index, word in enumerate(self.words) if not (word.function or word.covered)
        ]
        displaced = []
        for position, (index, word) in enumerate(content):
            if word.keys & (vetted | free) or index in self.decided or self._in_address(word):
                continue
            homes = [keys for keys in self.sources.text_keys if word.keys & keys]
            if not homes:
                continue  # not a word of the sources: `supported` names it already
            near = [
                other
                for _, other in content[max(0, position - _CONTEXT) : position + _CONTEXT + 1]
                if other is not word
            ]
            if near and not any(other.keys & keys for other in near for keys in homes):
                displaced.append(self.output.surface(word.start, word.end))
        return displaced

    def polarity(self) -> GuardVerdict:
        allowed = _ALLOWED_DECISIONS[self.context.decides]
        sources = self.sources.words
        problems: list[tuple[str, str]] = []
        for term, polarity, start, end in self.decisions:
            if polarity in allowed or (term, polarity) in sources.decisions:
                continue
            if polarity == "autre":
                label = "décision que le courrier ne prend pas"
            elif self.context.decides == "aucune":
                label = "décision alors que le courrier n'en prend aucune"
            else:
                label = f"décision {polarity} contraire au courrier ({self.context.decides})"
            problems.append((label, self._surface(start, end)))
        stated = sources.conditions
        for _, negated, start, end in self.conditions:
            if negated not in stated:
                label = (
                    "condition dite remplie contrairement aux données"
                    if not negated
                    else "condition dite non remplie contrairement aux données"
                )
                problems.append((label, self._surface(start, end)))
        decision_words = {
            index for _, _, start, end in (*self.decisions, *self.conditions) for index in range(start, end)
        }
        for index, word in enumerate(self.words):
            if word.function or word.covered or auxiliary(word.text) or index in decision_words:
                continue  # an auxiliary passes its negation on to the verb it carries
            seen = set().union(*(sources.polarities.get(key, ()) for key in word.keys))
            negated = word.negated
            if word.keys & vocabulary().affirmative and not sources.polarities.keys() & word.keys:
                # A courtesy word the sources lack comes only as an offer, whatever negation its
                # clause holds: « il n'est pas utile de nous écrire » closes the door.
                seen = {False}
                negated = any(
                    o.negates and not o.covered for o in self.words[:index] if o.clause == word.clause
                )
            if seen and negated not in seen:
                label = "négation ajoutée" if negated else "négation retirée par rapport aux données"
                problems.append((label, self.output.surface(word.start, word.end)))
        if not problems:
            return _pass("polarity")
        return _fail("polarity", _grouped(problems), (surface for _, surface in problems))

    def _listed(self, names: Callable[[str], bool]) -> list[tuple[str, str]]:
        """(list label, surface) of every term of the chosen closed lists that the sources lack; a
        decision term that states the letter's own decision is not counted."""
        decided = self.decided
        folded = self.output.folded_words
        groups = self.sources.words.groups
        return [
            (term_list.label, self._surface(start, end))
            for term_list in closed_lists()
            if names(term_list.name)
            for group, start, end in term_list.find(folded)
            if group not in groups.get(term_list.name, frozenset())
            and start not in decided
            and not all(word.covered for word in self.words[start:end])
        ]

    def no_new_commitment(self) -> GuardVerdict:
        new = [surface for _, surface in self._listed(lambda name: name == _COMMITMENTS)]
        if not new:
            return _pass("no_new_commitment")
        return _fail(
            "no_new_commitment", f"terme engageant absent des données : {', '.join(unique(new))}", new
        )

    def no_listed_term(self) -> GuardVerdict:
        found = self._listed(lambda name: name != _COMMITMENTS)
        if not found:
            return _pass("no_listed_term")
        return _fail("no_listed_term", _grouped(found), (surface for _, surface in found))

    def no_repetition(self) -> GuardVerdict:
        # Words only: the digit groups of « 999 999 999 » are one number, not a word said thrice.
        sentences = [" ".join(WORD.findall(m[0].casefold())) for m in _SENTENCE.finditer(self.output.text)]
        sentences = [sentence for sentence in sentences if sentence.count(" ") >= 2]
        repeated = [sentence for index, sentence in enumerate(sentences) if sentence in sentences[:index]]
        tokens = WORD.findall(self.output.text.casefold())
        seen: set[tuple[str, ...]] = set()
        for start in range(len(tokens) - _COPY_RUN + 1):
            run = tuple(tokens[start : start + _COPY_RUN])
            if run in seen:
                repeated.append(" ".join(run))
            seen.add(run)
        repeated += [
            " ".join(tokens[index : index + size])
            for size in range(1, 5)
            for index in range(len(tokens) - 3 * size + 1)
            if tokens[index : index + size]
            == tokens[index + size : index + 2 * size]
            == tokens[index + 2 * size : index + 3 * size]
        ]
        if not repeated:
            return _pass("no_repetition")
        return _fail("no_repetition", "texte répété", repeated)

    def no_citizen_copy(self) -> GuardVerdict:
        citizen = self.sources.citizen_ngrams
        if not citizen:
            return _pass("no_citizen_copy")
        allowed = self.sources.words.ngrams
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


_CONTEXT = 3
"""How many content words on each side of a word of the trusted values are its context."""


class _Spans:
    """Spans of a text that do not overlap (items are masked as they are found), to test in log time
    whether a position falls in one."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        self.spans = sorted(spans)
        self._starts = [start for start, _ in self.spans]

    def __contains__(self, position: int) -> bool:
        index = bisect.bisect_right(self._starts, position) - 1
        return index >= 0 and position < self.spans[index][1]


_COMMITMENTS = "engagements"
"""The closed list that `no_new_commitment` applies; `no_listed_term` applies the others."""


def _grouped(found: Sequence[tuple[str, str]]) -> str:
    """« label : « a », « b » ; other label : « c » » for (label, surface) pairs, in order."""
    labels = dict.fromkeys(label for label, _ in found)
    return " ; ".join(
        f"{label} : {', '.join(f'« {s} »' for s in unique(s for kind, s in found if kind == label))}"
        for label in labels
    )


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
    ("supported", _Check.supported),
    ("polarity", _Check.polarity),
    ("no_new_commitment", _Check.no_new_commitment),
    ("no_listed_term", _Check.no_listed_term),
    ("no_repetition", _Check.no_repetition),
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
