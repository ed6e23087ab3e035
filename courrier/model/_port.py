"""The drafter's two ports to a LangChain chat model: the local model's, which honours every call
option, and the generic one for any other chat model. `port_for` chooses once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import JsonValue

from ..port import GENERATION_PARAMETERS, CallOptions, ChatPort, PromptMessage, Reply
from ..record import ModelRecord, Usage
from ._local import LOCAL_KIND, LocalChatModel, LocalReplyMetadata

__all__ = ["GenericPort", "LocalPort", "port_for", "to_langchain"]

_CHARS_PER_TOKEN = 3
"""French runs at three to four characters a token: the low end, so a section's budget is enough."""

_TOKEN_SLACK = 16
"""Tokens beyond the section's length, for the quotes and spaces that cleaning takes off."""

_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")
"""Where LangChain integrations put why the model stopped (OpenAI, Anthropic, Ollama)."""

_MESSAGES = {"system": SystemMessage, "human": HumanMessage, "ai": AIMessage}


def port_for(llm: BaseChatModel) -> ChatPort:
    """The port for a chat model: `LocalPort` for the local model, `GenericPort` for any other (which
    passes the call options on to a model whose class declares `honours_call_options`)."""
    if isinstance(llm, LocalChatModel):
        return LocalPort(llm)
    return GenericPort(llm)


def to_langchain(messages: Sequence[PromptMessage]) -> list[BaseMessage]:
    """A rendered prompt as LangChain messages."""
    return [_MESSAGES[message.role](message.content) for message in messages]


def _token_budget(max_chars: int) -> int:
    return max_chars // _CHARS_PER_TOKEN + _TOKEN_SLACK


class LocalPort:
    """The local model: every call option, the GGUF fingerprint, usage and timings as reported."""

    def __init__(self, llm: LocalChatModel) -> None:
        self.llm = llm

    @property
    def record(self) -> ModelRecord:
        return ModelRecord(
            kind=LOCAL_KIND, fingerprint=self.llm.fingerprint, settings=dict(self.llm.load_settings())
        )

    def token_budget(self, max_chars: int) -> int:
        """More than `max_chars` is refused anyway; never more than the model's own `max_tokens`."""
        return min(self.llm.max_tokens, _token_budget(max_chars))

    def parameters(self, options: CallOptions) -> dict[str, JsonValue]:
        return self._recorded(self.llm.sampling(options))

    def invoke(self, messages: Sequence[PromptMessage], options: CallOptions) -> Reply:
        reply = self.llm.invoke(to_langchain(messages), call_options=options)
        metadata = cast("LocalReplyMetadata", reply.response_metadata)
        input_tokens, output_tokens = _tokens(reply)
        return Reply(
            text=reply.text,
            usage=Usage(
                input_tokens=input_tokens,
                evaluated_input_tokens=metadata["prompt_tokens_evaluated"],
                prefix_stages=tuple(metadata["prefix_stages"]),
                output_tokens=output_tokens,
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
            "stop": json_safe(self.llm.stop),
        }


class GenericPort:
    """Any other LangChain chat model: its type and identifying parameters, the usage and finish
    reason it reports, and the sampling parameters its replies name.

    A model whose class sets `honours_call_options = True` (as `courrier.testing.ScriptedChatModel`
    does) is given the `CallOptions` of every call as its `call_options` keyword, and runs with their
    token budget; any other is called with the messages only."""

    def __init__(self, llm: BaseChatModel) -> None:
        self.llm = llm
        self.honours_call_options = bool(getattr(type(llm), "honours_call_options", False))

    @property
    def record(self) -> ModelRecord:
        described = self.llm.asdict()  # the identifying parameters, and the type under "_type"
        kind = str(described.pop("_type", type(self.llm).__name__))
        return ModelRecord(
            kind=kind,
            settings={
                name: json_safe(value)
                for name, value in sorted(described.items())
                if value is None or isinstance(value, bool | int | float | str)
            },
        )

    def token_budget(self, max_chars: int) -> int:
        return _token_budget(max_chars)

    def parameters(self, options: CallOptions) -> dict[str, JsonValue]:
        return {"max_tokens": options.max_tokens} if self.honours_call_options else {}

    def invoke(self, messages: Sequence[PromptMessage], options: CallOptions) -> Reply:
        if self.honours_call_options:
            reply = self.llm.invoke(to_langchain(messages), call_options=options)
        else:
            reply = self.llm.invoke(to_langchain(messages))
        metadata = reply.response_metadata
        input_tokens, output_tokens = _tokens(reply)
        return Reply(
            text=reply.text,
            usage=Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                finish_reason=_finish_reason(metadata),
            ),
            parameters={
                name: json_safe(metadata[name])
                for name in (*GENERATION_PARAMETERS, "stop")
                if name in metadata
            },
        )


def _tokens(reply: AIMessage) -> tuple[int | None, int | None]:
    """The prompt and output tokens a reply reports, if it does."""
    usage = reply.usage_metadata
    return (usage["input_tokens"], usage["output_tokens"]) if usage else (None, None)


def _finish_reason(metadata: Mapping[str, Any]) -> str | None:
    """Why a chat model stopped, in lower case, whatever key its integration uses."""
    reason = next((metadata[key] for key in _FINISH_KEYS if metadata.get(key)), None)
    return str(reason).casefold() if reason is not None else None


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
