"""The model port: what the drafter asks of a chat model for one section, and what it reads back.

The drafter speaks to every chat model through one `ChatPort`, chosen once when the drafter is built
(`courrier.model.port_for`). The local model's port honours every call option; the generic port,
for any other LangChain chat model, passes what that integration understands. Both sides are typed
here, so that a misspelt option or reply field is a type error, not an early stop or a reproducible
mode silently turned off. Nothing here imports LangChain or llama.cpp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import JsonValue

from .errors import UserError
from .record import ModelRecord, Usage

__all__ = [
    "GENERATION_PARAMETERS",
    "CallOptions",
    "ChatPort",
    "PromptMessage",
    "Reply",
    "Role",
    "early_stop",
]

GENERATION_PARAMETERS = ("temperature", "top_p", "top_k", "repeat_penalty", "max_tokens", "seed")
"""The sampling parameters of a call, as the provenance records them (`AttemptRecord.parameters`)."""

Role = Literal["system", "human", "ai"]
"""Who speaks in a prompt message, as LangChain names message types (the prompt hash uses them)."""


@dataclass(frozen=True)
class PromptMessage:
    """One message of a rendered prompt."""

    role: Role
    content: str


@dataclass(frozen=True)
class CallOptions:
    """What one call may spend, and when it stops.

    `max_tokens`: the token budget. `max_chars`: stop once the reply, its whitespace runs collapsed,
    is longer (finish reason "length"). `stop_when`: called with the reply so far after each piece;
    True stops generation (finish reason "interrupted", as when `timeout` seconds have passed).
    `stop`: sequences that end the reply. `shared_prefix`: how the first user message opens, the same
    for every call of a letter; in reproducible mode it is evaluated once, along a fixed path, so the
    same prompt and `seed` give the same output whatever was generated before.
    """

    max_tokens: int
    max_chars: int | None = None
    stop_when: Callable[[str], bool] | None = None
    stop: tuple[str, ...] = ()
    shared_prefix: str | None = None
    timeout: float | None = None
    seed: int | None = None

    @classmethod
    def of_call(cls, kwargs: Mapping[str, Any], max_tokens: int) -> CallOptions:
        """The options of a LangChain call: its `call_options`, else a budget of its `max_tokens` or
        the model's own. `UserError` for `call_options` that are not `CallOptions`."""
        given = kwargs.get("call_options")
        if given is None:
            return cls(max_tokens=kwargs.get("max_tokens", max_tokens))
        if not isinstance(given, CallOptions):
            raise UserError(f"call_options : CallOptions attendu, pas {type(given).__name__}")
        return given


@dataclass(frozen=True)
class Reply:
    """What one call gave back: the text, its usage, and the parameters it ran with."""

    text: str
    usage: Usage
    parameters: Mapping[str, JsonValue]
    reproducible: bool = False
    """Generated along a fixed evaluation path: replaying the same prompt gives the same text."""


def early_stop(text: str, options: CallOptions) -> Literal["length", "interrupted"] | None:
    """Why generation stops once the reply reads `text`, if it does: past the length bound, or the
    early-stop check says so. Every chat model that honours `CallOptions` stops by this rule."""
    bound = options.max_chars
    if bound is not None and len(text) > bound and len(" ".join(text.split())) > bound:
        return "length"
    if options.stop_when is not None and options.stop_when(text):
        return "interrupted"
    return None


class ChatPort(Protocol):
    """A chat model as the drafter sees it."""

    @property
    def record(self) -> ModelRecord:
        """The model part of the provenance record."""
        ...

    def token_budget(self, max_chars: int) -> int:
        """The tokens a section of at most `max_chars` characters may take."""
        ...

    def parameters(self, options: CallOptions) -> dict[str, JsonValue]:
        """The sampling parameters a call with these options runs with, before any reply (recorded
        for a call that fails)."""
        ...

    def invoke(self, messages: Sequence[PromptMessage], options: CallOptions) -> Reply:
        """One call; any exception means the call failed (the drafter keeps the vetted text)."""
        ...
