"""The local model as a LangChain chat model: `LocalChatModel` is the llama.cpp engine
(`LocalEngine`: the settings, the loading, the generation) behind langchain-core's chat model
interface. Structured output and tool calls are constrained by llama.cpp grammars built from JSON
Schemas.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    UsageMetadata,
)
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from pydantic import BaseModel, Field
from pydantic.v1 import BaseModel as BaseModelV1

from ..errors import UserError
from ..port import CallOptions
from ._engine import LOCAL_KIND, Completion, LocalEngine
from ._tools import (
    ANSWER_SCHEMA,
    NO_PARAMETERS,
    add_to_system,
    bound_strings,
    callable_tools,
    to_llama_messages,
    tool_reply,
    tools_prompt,
    without_refs,
)


class LocalChatModel(LocalEngine, BaseChatModel):
    """A GGUF model run in-process by llama.cpp, as a LangChain chat model.

    The settings are `LocalEngine`'s (not given, they come from `COURRIER_MODEL_PATH`, `COURRIER_N_CTX`,
    `COURRIER_N_THREADS`, `COURRIER_N_BATCH`, `COURRIER_PROMPT_LOOKUP`, `COURRIER_SEED`; the model path
    defaults to the embedded model), and so are the generation, the fingerprint and the provenance: a
    `LocalChatModel` given to the drafter drafts as `Drafter.local()` does. Greedy by default
    (temperature 0) with a fixed seed.

    Call options, besides the sampling parameters (`GENERATION_PARAMETERS`): `call_options`, a
    `courrier.port.CallOptions` (token budget, length bound, early-stop check, stop sequences, shared
    prompt prefix, timeout, seed).
    """

    max_retries: int = Field(
        default=0, ge=0, description="Accepted for LangChain; a local call is not retried."
    )
    disable_streaming: bool | Literal["tool_calling"] = Field(
        default="tool_calling", description="With tools, a reply is parsed whole: `stream` gives one message."
    )

    @property
    def _llm_type(self) -> str:
        return LOCAL_KIND

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_sha256": self.fingerprint.sha256,
            "model_file": self.fingerprint.file_name,
            **self.generation_parameters(),
            **self.load_settings(),
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="llamacpp",
            ls_model_name=kwargs.get("model", self.fingerprint.file_name),
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
            ls_max_tokens=kwargs.get("max_tokens", self.max_tokens),
        )
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # --- generation -------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = list(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
        text = "".join(chunk.text for chunk in chunks)
        last = chunks[-1].message if chunks else AIMessageChunk(content="")
        if kwargs.get("tools"):
            calls = sum(
                len(m.tool_calls) + len(m.invalid_tool_calls) for m in messages if isinstance(m, AIMessage)
            )
            reply = tool_reply(text, call_id=f"call_{calls + 1}")
        else:
            reply = {"content": text}
        message = AIMessage(
            **reply,
            usage_metadata=getattr(last, "usage_metadata", None),
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
        llama_messages = to_llama_messages(messages)
        if kwargs.get("tools"):
            add_to_system(
                llama_messages, tools_prompt(*callable_tools(kwargs["tools"], kwargs.get("tool_choice")))
            )
        generation = self.complete(
            llama_messages,
            CallOptions.of_call(kwargs, self.max_tokens),
            overrides=kwargs,
            stop=stop,
            json_schema=kwargs.get("json_schema"),
        )
        with closing(generation):  # a caller that stops reading releases the context's lock now
            while True:
                try:
                    piece = next(generation)
                except StopIteration as end:
                    completion: Completion = end.value
                    break
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        usage = UsageMetadata(
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            total_tokens=completion.input_tokens + completion.output_tokens,
        )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage,
                response_metadata=dict(completion.metadata),
                chunk_position="last",
            )
        )

    # --- structured output and tools --------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[Mapping[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Let the model call these tools: each reply is one tool call or a final answer.

        The system message describes the tools (name, description, JSON Schema of the parameters) and
        the reply format; a llama.cpp grammar makes every reply `{"outil": NAME, "arguments": {...}}`,
        the arguments following that tool's schema, or `{"reponse": TEXT}`. The reply is parsed into
        `AIMessage.tool_calls` (ids `call_1`, `call_2`… through the conversation) or its content; an
        output cut short (`max_tokens`, `timeout`, `stop`) is an `invalid_tool_calls` entry.

        `tool_choice`: None or "auto" (a call or an answer), "any" or "required" (a call), "none" (an
        answer), or a tool's name (a call to that tool). With tools, `stream` gives the reply whole.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        functions, may_answer = callable_tools(formatted, tool_choice)
        calls = [
            {
                "type": "object",
                "properties": {
                    "outil": {"const": function["name"]},
                    "arguments": without_refs(function.get("parameters", NO_PARAMETERS)),
                },
                "required": ["outil", "arguments"],
            }
            for function in functions
        ]
        schema = {"anyOf": [*bound_strings(calls), *([ANSWER_SCHEMA] if may_answer else [])]}
        return self.bind(tools=formatted, tool_choice=tool_choice, json_schema=json.dumps(schema), **kwargs)

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type,
        *,
        include_raw: bool = False,
        method: str = "json_schema",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Constrain the output with a llama.cpp grammar built from the schema, then validate it.

        Every `method` ("json_schema", "function_calling", "json_mode") is served the same way: the
        grammar makes every output follow the schema, so `strict` is always in effect.
        """
        if kwargs:
            raise UserError(f"arguments non pris en charge : {', '.join(sorted(kwargs))}")
        if method not in {"json_schema", "function_calling", "json_mode"}:
            raise UserError(f"méthode {method!r} inconnue")
        json_schema = convert_to_json_schema(schema)  # type: ignore[arg-type]
        llm = self.bind(
            json_schema=json.dumps(bound_strings(json_schema)),
            ls_structured_output_format={"kwargs": {"method": method}, "schema": json_schema},
        )
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel | BaseModelV1)
        parser: Runnable[Any, Any] = (
            PydanticOutputParser(pydantic_object=schema) if is_model else JsonOutputParser()
        )
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks([fallback], exception_key="parsing_error")
