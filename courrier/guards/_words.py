"""French words of a text as the meaning guards read them: each word with its comparison keys (lemma
and Snowball stem), the clause it belongs to, and whether a negation bears on it; and the reviewed
word lists of `data/` (the free vocabulary, the closed lists, the decision terms), with the version and
hash that the provenance records.

This module knows nothing of verdicts: `_checks` turns what it finds into them.
"""

from __future__ import annotations

import bisect
import itertools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import Any

from .._canonical import sha256_hex

WORD = re.compile(r"[^\W\d_]+")

_CLAUSE_BREAK = re.compile(r"[,;:.!?()«»\"“”—–…\n]")
"""Punctuation that ends a clause: a negation does not reach past it."""
_CLAUSE_WORDS = frozenset({"et", "mais", "car", "puis", "ou", "or"})
"""Conjunctions that open a new clause."""

_NEGATION_OPENERS = frozenset({"ne", "n"})
_NEGATION_CLOSERS = frozenset(
    {"pas", "plus", "jamais", "rien", "point", "guère", "nullement", "aucun", "aucune"}
)
_NEGATING_WORDS = frozenset({"sans", "aucun", "aucune", "non", "ni", "nul", "nulle"})
"""Words that negate the next content word: « sans rendez-vous », « aucun recours »."""
_INVERTED = frozenset({"rien", "aucun", "aucune", "personne", "nul", "nulle"})
"""Words that open a negation whose « ne » comes after them: « rien ne permet »."""
_NE_ALONE = frozenset({"pouvoir", "savoir", "oser", "cesser"})
"""Verbs that « ne » negates alone in written French: « elle ne peut être acceptée »."""
_RESTRICTIVE = frozenset({"que", "qu"})
"""« ne … que » restricts, it does not negate: « n'est accueilli que sur un point »."""
_AUXILIARIES = frozenset(
    {"être", "avoir", "pouvoir", "devoir", "vouloir", "savoir", "aller", "faire", "falloir"}
)
"""Lemmas of the verbs whose negation reaches the verb that follows: « ne peut pas être acceptée »."""


def fold(word: str) -> str:
    """A word casefolded and without accents, as the word lists compare it: « Défavorable » is
    "defavorable"."""
    decomposed = unicodedata.normalize("NFD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# The French libraries load on first use (simplemma's and text2num's imports cost 0.1 s): a letter
# drafted with no model never reads a word.


@cache
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("french")


@cache
def _lemmatizer() -> Any:
    import simplemma

    return simplemma


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The lemma of a casefolded word (simplemma's French dictionary), or the word itself."""
    if len(word) > _LONGEST_WORD:
        return word
    return str(_lemmatizer().lemmatize(word, lang="fr"))


def known(word: str) -> bool:
    """Whether a casefolded word is in simplemma's French dictionary (a common word, not a name)."""
    return bool(_lemmatizer().is_known(word, lang="fr"))


_LONGEST_WORD = 40
"""No French word is longer: a longer run of letters is compared as it is (stemming it is slow)."""


@lru_cache(maxsize=65536)
def keys(word: str) -> frozenset[str]:
    """What a casefolded word is compared by: the stems of the word and of its lemma, so that
    « remercions » meets « remercier » and « reçu » meets « recevoir »."""
    if len(word) > _LONGEST_WORD:
        return frozenset({word})
    stem = _stemmer().stemWord
    return frozenset({stem(word), stem(lemma(word))})


# --- Terms of the word lists --------------------------------------------------------------------------

_ELIDED = {
    "de": "d",
    "le": "l",
    "la": "l",
    "que": "qu",
    "ne": "n",
    "se": "s",
    "me": "m",
    "te": "t",
    "je": "j",
}
"""Words a term writes in full and a text may elide: « en train de » matches « en train d'examiner »."""


@dataclass(frozen=True)
class Term:
    """One entry of a word list: folded words, each exact or a word start (written with « * »:
    « répond* aux »)."""

    text: str
    parts: tuple[tuple[str, bool], ...]

    @classmethod
    def parse(cls, text: str) -> Term:
        parts = [(fold(match[1]), bool(match[2])) for match in re.finditer(r"([^\W\d_]+)(\*?)", text)]
        return cls(text, tuple(parts))

    @property
    def pattern(self) -> str:
        """The term as a regular expression over folded words joined by single spaces."""

        def part(word: str, prefix: bool) -> str:
            spelled = re.escape(word)
            if word in _ELIDED:
                spelled = f"(?:{spelled}|{re.escape(_ELIDED[word])})"
            return spelled + ("[^ ]*" if prefix else "")

        return " ".join(part(word, prefix) for word, prefix in self.parts)


@dataclass(frozen=True)
class TermList:
    """A closed list: a label, and groups of synonymous terms."""

    name: str
    label: str
    groups: tuple[tuple[str, tuple[Term, ...]], ...]

    @cached_property
    def _compiled(self) -> tuple[re.Pattern[str], tuple[str, ...]]:
        """One regular expression for the whole list, the longest terms first (a match is the longest
        term that starts at a word), and the group of each alternative."""
        terms = sorted(
            ((group, term) for group, terms in self.groups for term in terms),
            key=lambda entry: (-len(entry[1].parts), -len(entry[1].text)),
        )
        alternatives = "|".join(f"(?P<t{index}>{term.pattern})" for index, (_, term) in enumerate(terms))
        return re.compile(f"(?<![^ ])(?:{alternatives})(?![^ ])"), tuple(group for group, _ in terms)

    def find(self, words: Sequence[str]) -> Iterator[tuple[str, int, int]]:
        """(group, first word, end word) of every term of the list in `words` (folded), left to
        right, without overlap."""
        pattern, groups = self._compiled
        text = " ".join(words)
        starts = list(itertools.accumulate((len(word) + 1 for word in words), initial=0))
        for match in pattern.finditer(text):
            assert match.lastgroup is not None
            first = bisect.bisect_left(starts, match.start())
            yield groups[int(match.lastgroup[1:])], first, first + match[0].count(" ") + 1


@dataclass(frozen=True)
class WordList:
    """A data file of `data/`: its name, version and SHA-256."""

    file: str
    version: str
    sha256: str
    data: dict[str, Any]


@cache
def word_list(file: str) -> WordList:
    raw = resources.files("courrier.guards").joinpath("data", file).read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    return WordList(file, str(data["version"]), sha256_hex(raw), data)


WORD_LIST_FILES = ("vocabulaire.toml", "listes.toml", "decisions.toml")


@cache
def closed_lists() -> tuple[TermList, ...]:
    data = word_list("listes.toml").data
    return tuple(
        TermList(
            name,
            str(entry["libelle"]),
            tuple((group, tuple(map(Term.parse, terms))) for group, terms in entry["groupes"].items()),
        )
        for name, entry in data.items()
        if isinstance(entry, dict)
    )


@dataclass(frozen=True)
class Decisions:
    favourable: TermList
    unfavourable: TermList
    other: TermList
    partial: TermList
    conditions: TermList


@cache
def decision_terms() -> Decisions:
    data = word_list("decisions.toml").data

    def terms(name: str) -> TermList:
        return TermList(name, name, tuple((text, (Term.parse(text),)) for text in data[name]))

    return Decisions(
        terms("favorables"), terms("defavorables"), terms("autres"), terms("partielles"), terms("conditions")
    )


@dataclass(frozen=True)
class Vocabulary:
    function_words: frozenset[str]
    free_keys: frozenset[str]
    expressions: TermList
    synonyms: tuple[tuple[frozenset[str], frozenset[str]], ...]
    """(keys of a word, keys of the source words that justify it)."""
    restrictive: frozenset[str]
    """Words justified where the sources restrict with « ne … que »."""
    affirmative: frozenset[str]
    """Keys of the courtesy words that only an offer may use: « n'est pas utile » closes the door."""

    def justified(self, word_keys: frozenset[str], source_keys: Iterable[str]) -> bool:
        """Whether a word outside the sources is justified by a synonym that they hold."""
        return any(
            head & word_keys and not sources.isdisjoint(source_keys) for head, sources in self.synonyms
        )


@cache
def vocabulary() -> Vocabulary:
    data = word_list("vocabulaire.toml").data
    free = frozenset().union(
        *(keys(word.casefold()) for entry in data["libres"]["mots"] for word in WORD.findall(entry))
    )
    expressions = TermList(
        "expressions",
        "formules",
        tuple((text, (Term.parse(text),)) for text in data["expressions"]["formules"]),
    )
    synonyms = tuple(
        (keys(head.casefold()), frozenset().union(*(keys(word.casefold()) for word in words)))
        for head, words in data["synonymes"].items()
    )
    return Vocabulary(
        frozenset(word.casefold() for word in data["outils"]["mots"]),
        free,
        expressions,
        synonyms,
        frozenset(word.casefold() for word in data["restrictions"]["mots"]),
        frozenset().union(*(keys(word.casefold()) for word in data["affirmatifs"]["mots"])),
    )


# --- Words of a text ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """One word of a text: where it is, as written and casefolded, its clause, and whether a
    negation bears on it."""

    start: int
    end: int
    text: str
    clause: int
    negated: bool
    negates: bool
    """A negation: « ne » of « ne … pas », « sans », « aucun », « non », « ni »."""
    function: bool
    covered: bool
    """Part of a formula of the free vocabulary (« n'hésitez pas »)."""

    @cached_property
    def keys(self) -> frozenset[str]:
        return keys(self.text)

    @cached_property
    def folded(self) -> str:
        return fold(self.text)


def words_of(text: str) -> list[Word]:
    """The words of a text (its NFKC-folded form), with clauses, negations and formulas marked."""
    found = list(WORD.finditer(text))
    lower = [match[0].casefold() for match in found]
    clauses = _clauses(text, found, lower)
    negated, closers, openers = _negations(lower, clauses)
    vocab = vocabulary()
    folded = [fold(word) for word in lower]
    covered = [False] * len(found)
    for _, start, end in vocab.expressions.find(folded):
        covered[start:end] = [True] * (end - start)
    return [
        Word(match.start(), match.end(), lower[index], clauses[index], negated[index],
             index in openers or (lower[index] in _NEGATING_WORDS - _INVERTED and index not in closers),
             lower[index] in vocab.function_words or index in closers, covered[index])
        for index, match in enumerate(found)
    ]  # fmt: skip


def _clauses(text: str, found: Sequence[re.Match[str]], lower: Sequence[str]) -> list[int]:
    clause, previous_end, numbers = 0, 0, []
    for match, word in zip(found, lower, strict=True):
        if _CLAUSE_BREAK.search(text, previous_end, match.start()) or word in _CLAUSE_WORDS:
            clause += 1
        numbers.append(clause)
        previous_end = match.end()
    return numbers


_VERB_ENDINGS = ("er", "ir", "re", "oir")
"""How French infinitives end: a word whose lemma ends so is taken for a verb."""


def auxiliary(word: str) -> bool:
    """Whether a casefolded word is a form of an auxiliary or modal verb (« peut », « sera »)."""
    return lemma(word) in _AUXILIARIES


def _content(word: str) -> bool:
    return word not in vocabulary().function_words or auxiliary(word)


def _negations(words: Sequence[str], clauses: Sequence[int]) -> tuple[list[bool], set[int], set[int]]:
    """Which words a negation bears on, within their clause: the verb between « ne » and « pas »
    (and the verb after « pas » when that one is an auxiliary: « ne peut pas être acceptée »); the
    content word after « sans », « aucun », « non », « ni ». Also the closing words of « ne … pas »,
    « ne … plus »: grammar words there, whatever « plus » is elsewhere; and the openers of those."""
    negated, closers, openers = [False] * len(words), set(), set()
    inverted: set[int] = set()  # the clauses where « rien », « aucun »… came before
    for index, word in enumerate(words):
        if word in _INVERTED:
            inverted.add(clauses[index])
        if word in _NEGATION_OPENERS:
            closer = _closer(words, clauses, index)
            if closer is None:
                if clauses[index] in inverted:
                    openers.add(index)  # « rien ne permet », « aucun texte ne prévoit »
                    _negate_next(words, clauses, index, negated)
                    continue
                verb = next((j for j in _reach(words, index) if _content(words[j])), None)
                if verb is not None and clauses[verb] == clauses[index] and lemma(words[verb]) in _NE_ALONE:
                    openers.add(index)  # « ne peut être acceptée »: « ne » alone negates these verbs
                    negated[verb] = True
                    _negate_next(words, clauses, verb, negated, verbs_only=True)
                continue  # « ne … que » restricts; a lone « ne » negates nothing we can place
            closers.add(closer)
            openers.add(index)
            inner = [j for j in range(index + 1, closer) if _content(words[j])]
            for j in inner:
                negated[j] = True
            if words[closer] in {"aucun", "aucune"}:
                _negate_next(words, clauses, closer, negated)
            elif not inner or all(auxiliary(words[j]) for j in inner):
                _negate_next(words, clauses, closer, negated, verbs_only=True)
        elif word in _NEGATING_WORDS:
            _negate_next(words, clauses, index, negated)
    return negated, closers, openers


_NEGATION_REACH = 12
"""How many words after « ne » its « pas » may come, and a negation reach the word it bears on: a
negation is looked for that far only, so that reading a text stays linear in its length."""


def _reach(words: Sequence[str], index: int) -> range:
    return range(index + 1, min(len(words), index + 1 + _NEGATION_REACH))


def _closer(words: Sequence[str], clauses: Sequence[int], opener: int) -> int | None:
    """The word that closes the negation opened at `opener`, in its clause; None for « ne … que »."""
    for j in _reach(words, opener):
        if clauses[j] != clauses[opener] or words[j] in _RESTRICTIVE:
            return None
        if words[j] in _NEGATION_CLOSERS:
            return j
    return None


def _negate_next(
    words: Sequence[str], clauses: Sequence[int], after: int, negated: list[bool], *, verbs_only: bool = False
) -> None:
    """Negate the next content word of the clause, and the one after it while it is an auxiliary.
    After an auxiliary (« ne peut pas être acceptée »), only a verb takes the negation: « ne peut pas
    avoir la gratuité » negates no noun."""
    for j in _reach(words, after):
        if clauses[j] != clauses[after]:
            return
        if not _content(words[j]):
            continue
        if verbs_only and not auxiliary(words[j]) and not lemma(words[j]).endswith(_VERB_ENDINGS):
            return
        negated[j] = True
        if not auxiliary(words[j]):
            return


def restricted_clauses(words: Sequence[Word]) -> frozenset[int]:
    """The clauses that restrict with « ne … que », in one pass."""
    found: set[int] = set()
    opened: int | None = None
    for word in words:
        if word.text in _NEGATION_OPENERS:
            opened = word.clause
        elif opened == word.clause and word.text in _RESTRICTIVE:
            found.add(word.clause)
    return frozenset(found)


def negations_before(words: Sequence[Word]) -> list[int]:
    """For each word, how many negations its clause holds before it, in one pass."""
    counts: list[int] = []
    clause, count = None, 0
    for word in words:
        if word.clause != clause:
            clause, count = word.clause, 0
        counts.append(count)
        count += word.negates
    return counts


def word_lists() -> dict[str, str]:
    """The version and SHA-256 of each word list, as the provenance records them."""
    return {entry.file: f"{entry.version} sha256:{entry.sha256}" for entry in map(word_list, WORD_LIST_FILES)}
