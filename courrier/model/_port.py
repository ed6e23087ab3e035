"""The drafter's two ports: the local engine's, which honours every call option, and the generic one
for any other LangChain chat model (`_generic`). `port_for` chooses once.

This module imports no LangChain: the local engine is driven directly, and the generic port is
imported only for a LangChain chat model, when LangChain is loaded already.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from ..port import GENERATION_PARAMETERS, CallOptions, ChatPort, PromptMessage, Reply
from ..record import ModelRecord, Usage
from ._engine import LOCAL_KIND, TEMPLATE_ROLES, LocalEngine

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["LocalPort", "json_safe", "port_for", "token_budget"]

_CHARS_PER_TOKEN = 3
"""French runs at three to four characters a token: the low end, so a section's budget is enough."""

_TOKEN_SLACK = 16
"""Tokens beyond the section's length, for the quotes and spaces that cleaning takes off."""


def port_for(llm: LocalEngine | BaseChatModel) -> ChatPort:
    """The port for a model: `LocalPort` for the local engine (a `LocalChatModel` is one),
    `GenericPort` for any other LangChain chat model (which passes the call options on to a model
    whose class declares `honours_call_options`)."""
    if isinstance(llm, LocalEngine):
        return LocalPort(llm)
    from ._generic import GenericPort  # `llm` is a LangChain object: LangChain is loaded already

    return GenericPort(llm)


def token_budget(max_chars: int) -> int:
    """The tokens a section of at most `max_chars` characters may take, at the low end of French."""
    return max_chars // _CHARS_PER_TOKEN + _TOKEN_SLACK


class LocalPort:
    """The local engine: every call option, the GGUF fingerprint, usage and timings as reported."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine

    @property
    def record(self) -> ModelRecord:
        return ModelRecord(
            kind=LOCAL_KIND, fingerprint=self.engine.fingerprint, settings=dict(self.engine.load_settings())
        )

    def token_budget(self, max_chars: int) -> int:
        """More than `max_chars` is refused anyway; never more than the model's own `max_tokens`."""
        return min(self.engine.max_tokens, token_budget(max_chars))

    def parameters(self, options: CallOptions) -> dict[str, JsonValue]:
        return self._recorded(self.engine.sampling(options))

    def invoke(self, messages: Sequence[PromptMessage], options: CallOptions) -> Reply:
        generation = self.engine.complete(
            [{"role": TEMPLATE_ROLES[message.role], "content": message.content} for message in messages],
            options,
        )
        while True:  # the drafter reads the reply whole: the pieces are only generated
            try:
                next(generation)
            except StopIteration as end:
                completion = end.value
                break
        metadata = completion.metadata
        return Reply(
            text=completion.text,
            usage=Usage(
                input_tokens=completion.input_tokens,
                evaluated_input_tokens=metadata["prompt_tokens_evaluated"],
                prefix_stages=tuple(metadata["prefix_stages"]),
                output_tokens=completion.output_tokens,
                finish_reason=metadata["finish_reason"].casefold(),
                prompt_seconds=metadata["prompt_seconds"],
                generation_seconds=metadata["generation_seconds"],
            ),
            parameters=self._recorded(metadata),
            reproducible=metadata["reproducible"],
        )

    def _recorded(self, sampling: Mapping[str, object]) -> dict[str, JsonValue]:
        """The parameters an attempt records: the sampling parameters (`GENERATION_PARAMETERS`) of a
        call or of its reply's metadata, and the model's stop sequences."""
        return {
            **{name: json_safe(sampling[name]) for name in GENERATION_PARAMETERS},
            "stop": json_safe(self.engine.stop),
        }


def json_safe(value: Any) -> JsonValue:
    """A reported value as canonical JSON can hold it: other types, huge integers and non-finite
    floats (which RFC 8785 cannot represent) become text."""
    if value is None or isinstance(value, bool | str):
        return value
    if (isinstance(value, int) and abs(value) < 2**53) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return str(value)
