"""The drafter's port to any LangChain chat model but the local one: what its integration reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import JsonValue

from ..port import GENERATION_PARAMETERS, CallOptions, PromptMessage, Reply
from ..record import ModelRecord, Usage
from ._port import json_safe, token_budget

__all__ = ["GenericPort", "to_langchain"]

_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")
"""Where LangChain integrations put why the model stopped (OpenAI, Anthropic, Ollama)."""

_MESSAGES = {"system": SystemMessage, "human": HumanMessage, "ai": AIMessage}


def to_langchain(messages: Sequence[PromptMessage]) -> list[BaseMessage]:
    """A rendered prompt as LangChain messages."""
    return [_MESSAGES[message.role](message.content) for message in messages]


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
        return token_budget(max_chars)

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
