"""Guards on model output: text and its sources in, one verdict per guard out.

This layer imports the record contract and the standard library only: no templates, no model. See
`_checks` for what each guard refuses, and `_items` for the French items they compare.
"""

from .._exports import publish
from ._checks import CUT_OFF, EARLY_GUARDS, GUARDS, GuardContext, check_output, refused_early
from ._stream import QUOTE_SLACK, SENTENCE_END, clean_output, refused_so_far

__all__ = [
    "CUT_OFF",
    "EARLY_GUARDS",
    "GUARDS",
    "QUOTE_SLACK",
    "SENTENCE_END",
    "GuardContext",
    "check_output",
    "clean_output",
    "refused_early",
    "refused_so_far",
]

publish(__name__, globals(), __all__)
