"""The guards' side of generation: a reply cleaned as the guards read it, and the early check made
while it is still being generated."""

from __future__ import annotations

import re

from ._checks import GuardContext, refused_early

__all__ = ["QUOTE_SLACK", "SENTENCE_END", "EarlyCheck", "clean_output", "refused_so_far"]

_QUOTES = {"«": "»", '"': '"', "“": "”", "'": "'"}

QUOTE_SLACK = 4
"""Characters `clean_output` may take off a reply: a pair of « » and the spaces inside them. A reply
is not stopped for length before it is this much longer than the length guard allows."""


def clean_output(raw: str) -> str:
    """A model's reply as the guards check it: one pair of enclosing quotes removed, each line
    stripped, blank lines dropped. Line breaks are kept for the guards that look at line starts; the
    letter then prints the text with each line break made a space."""
    text = raw.strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1]
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


SENTENCE_END = re.compile(
    r"(?:\w{4}|\d)[.!?…](?=\s+[«\"A-ZÀ-ÖØ-Þ])"  # « … 2027. Nous », not « sept. 2026 » nor « M. Morvan »
    r"|[.!?…:;)»\"](?=[ \t]*\n\s*[^\d\s])"  # a line ended by punctuation, not « 1\n234 »
    r"|[^\W\d](?=[ \t]*\n[ \t]*[{\[<#*|>-])"  # a word, then a line of markup: « DONNEES\n{ »
)
"""The end of a sentence, where no item the guards read can go on: a word of four letters or more or a
number, a full stop, a space and a capital that opens the next sentence; a punctuation mark, a
closing bracket or quote that ends a line, the next one not opening with a digit; or a word that ends
a line, the next one opening with markup."""


def refused_so_far(context: GuardContext, text: str) -> bool:
    """Whether `EARLY_GUARDS` refuse the part of `text` that ends at its last sentence end: a text
    being generated, checked whole (`EarlyCheck` checks it as it grows)."""
    return EarlyCheck(context)(text)


class EarlyCheck:
    """The check made while one output is generated, incremental: each call runs `EARLY_GUARDS` on
    the sentences ended since the previous call (with the sentence before them, for what straddles
    a sentence end), not on the whole text again. The guards that run early judge each sentence on
    its own, so this refuses what `refused_so_far` refuses, in time linear in the output."""

    def __init__(self, context: GuardContext) -> None:
        self.context = context
        self._checked = 0
        self._previous = 0

    def __call__(self, text: str) -> bool:
        """Whether the early guards refuse `text` up to its last sentence end. The lines are
        stripped as `clean_output` does, but quotes are kept: the whole text may not be quoted."""
        ends = list(SENTENCE_END.finditer(text, self._checked))
        if not ends or ends[-1].end() <= self._checked:
            return False
        end = ends[-1].end()
        chunk = text[self._previous : end]
        self._previous, self._checked = self._checked, end
        return refused_early(
            "\n".join(line.strip() for line in chunk.splitlines() if line.strip()), self.context
        )
