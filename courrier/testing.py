"""Testing without a model file: a scripted chat model that honours the drafter's port.

`ScriptedChatModel` replies with the texts it is given, in order, and generates each one piece by
piece, as a real model would: it stops at the token budget, at the length bound and at the early-stop
check of `courrier.port.CallOptions`, and at stop sequences, with the finish reason the local model
would report. The drafter's generic port passes it the call options (`honours_call_options`), so a
test sees what the guards make of an output cut short, with no GGUF file and no llama.cpp::

    from courrier import Drafter
    from courrier.testing import ScriptedChatModel

    llm = ScriptedChatModel(responses=["Votre demande ne peut pas être acceptée. ..."])
    draft = Drafter(llm=llm).draft(request)
    llm.calls  # the messages of every call: the prompts the drafter sent
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr

from .port import CallOptions, early_stop

__all__ = ["SCRIPTED_KIND", "ScriptedChatModel"]

SCRIPTED_KIND = "courrier-scripted"
"""The scripted model's kind in the provenance record (`ModelRecord.kind`)."""

_FinishReason = Literal["stop", "length", "interrupted"]

_LOCK = threading.Lock()
"""Taking the next scripted text and recording a call: one lock for every scripted model, so that a
model still deep-copies (a lock does not) and concurrent calls each take their own text."""


class ScriptedChatModel(BaseChatModel):
    """A chat model that replies with scripted texts, generated token by token under the call options.

    Each call takes the next text of `responses`, cycling back to the first after the last (as
    langchain-core's `FakeListChatModel` does), whatever the prompt. A token is `chars_per_token`
    characters of it; the prompt is counted the same way, over its messages' text.

    The reply is cut, as `LocalChatModel` cuts its own:

    - at the first stop sequence (`CallOptions.stop`, the call's `stop`, else the model's `stop`):
      finish reason "stop", the sequence left out;
    - after `max_tokens` tokens (`CallOptions.max_tokens`; without call options, the call's
      `max_tokens` or the model's): "length";
    - after the piece for which `courrier.port.early_stop` says so (`max_chars`, `stop_when`):
      "length" or "interrupted";
    - once `timeout` seconds have passed (the options', else the model's), pieces coming every
      `sleep` seconds: "interrupted".

    Otherwise the reply is the whole text, finish reason "stop". The reply's `usage_metadata` counts
    the prompt's and the reply's tokens; its `response_metadata` holds `finish_reason` and
    `max_tokens`. `calls` holds the messages of every call, in order. `shared_prefix` and `seed` have
    no effect: a scripted reply is the same whatever the prompt.
    """

    honours_call_options: ClassVar[bool] = True
    """Tells the drafter's generic port to pass `call_options` on every call (`courrier.model.port_for`)."""

    responses: list[str] = Field(min_length=1)
    chars_per_token: int = Field(default=4, ge=1)
    max_tokens: int = Field(default=512, ge=1)
    stop: list[str] | None = None
    sleep: float | None = Field(default=None, ge=0, description="Seconds before each piece.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds after which generation stops.")

    _next: int = PrivateAttr(default=0)
    _calls: list[tuple[BaseMessage, ...]] = PrivateAttr(default_factory=list)

    @property
    def calls(self) -> tuple[tuple[BaseMessage, ...], ...]:
        """The messages of every call so far, in the order of the calls."""
        with _LOCK:
            return tuple(self._calls)

    @property
    def _llm_type(self) -> str:
        return SCRIPTED_KIND

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "responses": list(self.responses),
            "chars_per_token": self.chars_per_token,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout,
        }

    def tokens(self, text: str) -> int:
        """How many tokens `text` counts: one every `chars_per_token` characters, begun or not."""
        return math.ceil(len(text) / self.chars_per_token)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = [
            chunk.message for chunk in self._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
        ]
        last = chunks[-1]  # the last chunk, always yielded, holds the usage and the finish reason
        message = AIMessage(
            content="".join(chunk.text for chunk in chunks),
            usage_metadata=last.usage_metadata if isinstance(last, AIMessageChunk) else None,
            response_metadata=dict(last.response_metadata),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        options = CallOptions.of_call(kwargs, self.max_tokens)
        with _LOCK:
            script = self.responses[self._next % len(self.responses)]
            self._next = (self._next + 1) % len(self.responses)
            self._calls.append(tuple(messages))
        text = _cut(script, [*options.stop, *(stop or self.stop or [])])
        size = self.chars_per_token
        pieces = [text[start : start + size] for start in range(0, len(text), size)]
        finish_reason: _FinishReason = "stop"
        if len(pieces) > options.max_tokens:
            pieces, finish_reason = pieces[: options.max_tokens], "length"
        timeout = options.timeout or self.timeout
        deadline = time.perf_counter() + timeout if timeout else None
        written = ""
        output_tokens = 0
        for piece in pieces:
            if self.sleep:
                time.sleep(self.sleep)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
            written += piece
            output_tokens += 1
            stopped = early_stop(written, options)
            if stopped is not None:
                finish_reason = stopped
                break
            if deadline is not None and time.perf_counter() > deadline:
                finish_reason = "interrupted"
                break
        input_tokens = self.tokens("".join(message.text for message in messages))
        usage = UsageMetadata(
            input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=input_tokens + output_tokens
        )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage,
                response_metadata={"finish_reason": finish_reason, "max_tokens": options.max_tokens},
                chunk_position="last",
            )
        )


def _cut(text: str, stops: Sequence[str]) -> str:
    """`text` up to the first place where one of `stops` begins."""
    found = [at for at in (text.find(stop) for stop in stops if stop) if at >= 0]
    return text[: min(found)] if found else text
