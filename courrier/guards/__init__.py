"""Guards on model output: text and its sources in, one verdict per guard out.

This layer imports the record contract, the standard library and three French language libraries
(simplemma, snowballstemmer, text2num): no templates, no model. See `_checks` for what each guard
refuses, `_items` for the French items they compare, `_words` for the words, and `data/` for the
reviewed word lists (their versions and hashes: `word_lists`).
"""

from .._exports import publish
from ._checks import CUT_OFF, EARLY_GUARDS, GUARDS, GuardContext, check_output, refused_early
from ._stream import QUOTE_SLACK, SENTENCE_END, EarlyCheck, clean_output, refused_so_far
from ._words import word_lists

__all__ = [
    "CUT_OFF",
    "EARLY_GUARDS",
    "GUARDS",
    "QUOTE_SLACK",
    "SENTENCE_END",
    "EarlyCheck",
    "GuardContext",
    "check_output",
    "clean_output",
    "refused_early",
    "refused_so_far",
    "word_lists",
]

publish(__name__, globals(), __all__)
