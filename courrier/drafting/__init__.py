"""The drafting layer: a request, its vetted sections and an optional chat model in, a sealed draft out.

The drafter speaks to a model through the port (`courrier.port`) only; it loads the model layer, and
LangChain with it, only when it is given a chat model.
"""

from .._exports import publish
from ._drafter import Clock, Drafter
from ._letter import LetterData, model_mode
from ._prompts import STYLES, PromptTemplate, RenderedPrompt, Style, canonical_messages, prompt_for

__all__ = [
    "STYLES",
    "Clock",
    "Drafter",
    "LetterData",
    "PromptTemplate",
    "RenderedPrompt",
    "Style",
    "canonical_messages",
    "model_mode",
    "prompt_for",
]

publish(__name__, globals(), __all__)
