"""The local model: llama-cpp-python behind langchain-core's chat model interface.

`LocalChatModel` formats messages with the GGUF's own chat template, tokenizes the prompt itself
(so that a prompt too long for the context is a typed error, not a crash), and serializes every call
to one llama.cpp context with a lock: one context is not thread-safe. Structured output and tool calls
are constrained by llama.cpp grammars built from JSON Schemas.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

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
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.v1 import BaseModel as BaseModelV1

from ..errors import ContextOverflow, UserError
from ..port import GENERATION_PARAMETERS, CallOptions, early_stop
from ..record import ModelFingerprint
from ._loading import (
    LOAD_SETTINGS,
    MODEL_CACHE,
    LoadedModel,
    LoadKey,
    ModelCache,
    common_prefix,
    default_model_path,
    default_threads,
)
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

if TYPE_CHECKING:
    from llama_cpp import StoppingCriteriaList
    from llama_cpp.llama_grammar import LlamaGrammar

LOCAL_KIND = "courrier-llamacpp"
"""The local model's kind in the provenance record (`ModelRecord.kind`)."""

_ENVIRONMENT = {
    "model_path": "COURRIER_MODEL_PATH",
    "n_ctx": "COURRIER_N_CTX",
    "n_threads": "COURRIER_N_THREADS",
    "n_batch": "COURRIER_N_BATCH",
    "prompt_lookup": "COURRIER_PROMPT_LOOKUP",
    "seed": "COURRIER_SEED",
}


class LocalChatModel(BaseChatModel):
    """A GGUF model run in-process by llama.cpp, as a LangChain chat model.

    Settings not given come from `COURRIER_MODEL_PATH`, `COURRIER_N_CTX`, `COURRIER_N_THREADS`,
    `COURRIER_N_BATCH`, `COURRIER_PROMPT_LOOKUP`, `COURRIER_SEED`; the model path defaults to the
    embedded model.
    Greedy by default (temperature 0) with a fixed seed.

    Call options, besides the sampling parameters (`GENERATION_PARAMETERS`): `call_options`, a
    `courrier.port.CallOptions` (token budget, length bound, early-stop check, stop sequences, shared
    prompt prefix, timeout, seed), which the drafter's port passes on every call.
    """

    model_path: str = Field(default_factory=lambda: str(default_model_path()))
    n_ctx: int = Field(default=4096, ge=64)
    n_threads: int = Field(default_factory=default_threads, ge=1)
    n_batch: int = Field(default=512, ge=1)
    prompt_lookup: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Prompt-lookup decoding: tokens guessed per step by copying what followed the last "
        "tokens in the prompt, then checked by the model in one batch (0: off). It pays when the output "
        "copies the prompt on a model whose decoding is bound by memory; on the embedded model it did not "
        "speed decoding up (benchmarks/drafting.py). It keeps every token's logits (n_ctx × vocabulary "
        "floats) and, evaluating in other batches, may change a greedy output: replay sets it as recorded.",
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.0, gt=0.0)
    max_tokens: int = Field(default=512, ge=1)
    stop: list[str] | None = None
    timeout: float | None = Field(default=None, gt=0, description="Seconds after which generation stops.")
    max_retries: int = Field(
        default=0, ge=0, description="Accepted for LangChain; a local call is not retried."
    )
    verbose: bool = Field(default=False, description="Let llama.cpp write its log to stderr.")
    reproducible: bool = Field(
        default=True,
        description="Evaluate the shared prompt prefix along a fixed path (the system message, then the "
        "`shared_prefix` a call names), so that the same prompt and seed give the same output, whatever "
        "the model generated before; the prefix is still reused between calls.",
    )
    disable_streaming: bool | Literal["tool_calling"] = Field(
        default="tool_calling", description="With tools, a reply is parsed whole: `stream` gives one message."
    )
    model_cache: ModelCache = Field(default=MODEL_CACHE, exclude=True)

    model_config = ConfigDict(arbitrary_types_allowed=True)
    _model: LoadedModel = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _settings_from_environment(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, variable in _ENVIRONMENT.items():
                if data.get(name) is None and os.environ.get(variable):
                    data = {**data, name: os.environ[variable]}
        return data

    def model_post_init(self, context: Any) -> None:
        key = LoadKey(
            path=str(Path(self.model_path).expanduser().resolve()),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_batch=self.n_batch,
            prompt_lookup=self.prompt_lookup,
        )
        self._model = self.model_cache.load(key, verbose=self.verbose)

    @property
    def fingerprint(self) -> ModelFingerprint:
        """File name, size, SHA-256, architecture, quantization, chat template hash, backend version."""
        return self._model.fingerprint

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

    def load_settings(self) -> dict[str, int]:
        """The settings the model file is loaded with (`LOAD_SETTINGS`)."""
        return {name: getattr(self, name) for name in LOAD_SETTINGS}

    def generation_parameters(self, **overrides: Any) -> dict[str, Any]:
        """The sampling parameters of a call: the model's settings with the call's overrides."""
        return {name: overrides.get(name, getattr(self, name)) for name in GENERATION_PARAMETERS}

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
        model = self._model
        options = CallOptions.of_call(kwargs, self.max_tokens)
        params = self.sampling(options, kwargs)
        grammar = self._grammar(kwargs["json_schema"]) if kwargs.get("json_schema") else None
        llama_messages = to_llama_messages(messages)
        if kwargs.get("tools"):
            add_to_system(
                llama_messages, tools_prompt(*callable_tools(kwargs["tools"], kwargs.get("tool_choice")))
            )
        formatted = model.formatter(messages=llama_messages)  # type: ignore[arg-type]
        with model.lock:
            prompt = model.llama.tokenize(
                formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
            )
            if len(prompt) >= self.n_ctx:
                raise ContextOverflow(len(prompt), self.n_ctx)
            started = time.perf_counter()
            stages, evaluated = self._evaluate_prefix(
                llama_messages, prompt, options, formatted.added_special
            )
            timeout = options.timeout or self.timeout
            deadline = started + timeout if timeout else None
            stream = model.llama.create_completion(
                prompt=prompt,
                stream=True,
                stop=[*(formatted.stop or []), *options.stop, *(stop or self.stop or [])],
                stopping_criteria=_with_deadline(formatted.stopping_criteria, deadline),
                grammar=grammar,
                **params,
            )
            first_token_at: float | None = None
            finish_reason = None
            text = ""
            for part in cast("Iterator[dict[str, Any]]", stream):
                choice = part["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                piece = choice["text"]
                if not piece:
                    continue
                first_token_at = first_token_at or time.perf_counter()
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
                text += piece
                stopped = early_stop(text, options)
                if stopped is not None:
                    finish_reason = stopped
                    cast("Generator[Any, None, None]", stream).close()
                    break
            ended = time.perf_counter()
            if deadline is not None and ended > deadline and finish_reason == "stop":
                finish_reason = "interrupted"  # llama.cpp reports a stopping criterion as "stop"
            output_tokens = len(model.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        usage = UsageMetadata(
            input_tokens=len(prompt), output_tokens=output_tokens, total_tokens=len(prompt) + output_tokens
        )
        metadata: LocalReplyMetadata = {
            "finish_reason": finish_reason or "stop",
            "model_name": model.fingerprint.file_name,
            "model_sha256": model.fingerprint.sha256,
            "prompt_seconds": round((first_token_at or ended) - started, 6),
            "generation_seconds": round(ended - (first_token_at or ended), 6),
            "reproducible": bool(stages),
            "prefix_stages": stages,
            "prompt_tokens_evaluated": evaluated,
            **params,
        }
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", usage_metadata=usage, response_metadata=dict(metadata), chunk_position="last"
            )
        )

    def sampling(self, options: CallOptions, kwargs: Mapping[str, Any] | None = None) -> Sampling:
        """The sampling parameters of a call: the model's settings, the call's overrides (`kwargs`),
        then the budget and seed its options set."""
        overrides = {**(kwargs or {}), "max_tokens": options.max_tokens}
        if options.seed is not None:
            overrides["seed"] = options.seed
        return cast("Sampling", self.generation_parameters(**overrides))

    def _evaluate_prefix(
        self, messages: list[dict[str, str]], prompt: list[int], options: CallOptions, added_special: bool
    ) -> tuple[list[int], int | None]:
        """In reproducible mode, evaluate the prompt's prefix stages along their fixed path; return the
        stages and the prompt tokens this call evaluated (None when llama.cpp reuses its cache itself)."""
        stages = (
            self._stages(messages, prompt, options.shared_prefix, added_special) if self.reproducible else []
        )
        if not stages:
            self._model.stages = []  # llama.cpp's own prefix reuse may now rewrite what the stages held
            return stages, None
        return stages, self._model.evaluate_stages(prompt, stages) + len(prompt) - stages[-1]

    def _stages(
        self,
        messages: list[dict[str, str]],
        prompt: list[int],
        shared_prefix: str | None,
        added_special: bool,
    ) -> list[int]:
        """The prefix boundaries of a prompt: the end of its system message, then the end of the
        `shared_prefix` that opens its first user message (what every section of a letter shares)."""
        heads = []
        if messages and messages[0]["role"] == "system":
            heads.append(messages[:1])
        users = [i for i, message in enumerate(messages) if message["role"] == "user"]
        if shared_prefix and users and messages[users[0]]["content"].startswith(shared_prefix):
            heads.append([*messages[: users[0]], {"role": "user", "content": shared_prefix}])
        stages: list[int] = []
        for head in heads:
            formatted = self._model.formatter(messages=head)  # type: ignore[arg-type]
            tokens = self._model.llama.tokenize(
                formatted.prompt.encode("utf-8"), add_bos=not added_special, special=True
            )
            boundary = common_prefix(prompt, tokens)
            if (stages[-1] if stages else 0) < boundary < len(prompt):
                stages.append(boundary)
        return stages

    def _grammar(self, schema_json: str) -> LlamaGrammar:
        grammars = self._model.grammars
        if schema_json not in grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                grammars[schema_json] = LlamaGrammar.from_json_schema(schema_json, verbose=False)
            except (ValueError, RuntimeError, KeyError, NotImplementedError) as error:
                raise UserError(
                    f"schéma JSON non pris en charge par les grammaires llama.cpp : {error}"
                ) from error
        return grammars[schema_json]

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


class Sampling(TypedDict):
    """The sampling parameters of one llama.cpp completion (`GENERATION_PARAMETERS`)."""

    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    max_tokens: int
    seed: int


class LocalReplyMetadata(Sampling):
    """The `response_metadata` of a local reply, as `LocalPort` reads it back."""

    finish_reason: str
    model_name: str
    model_sha256: str
    prompt_seconds: float
    generation_seconds: float
    reproducible: bool
    prefix_stages: list[int]
    prompt_tokens_evaluated: int | None


def _with_deadline(
    criteria: StoppingCriteriaList | None, deadline: float | None
) -> StoppingCriteriaList | None:
    """The chat format's stopping criteria, and a stop once `deadline` (perf_counter) has passed."""
    if deadline is None:
        return criteria
    from llama_cpp import StoppingCriteriaList

    return StoppingCriteriaList([*(criteria or []), lambda _tokens, _logits: time.perf_counter() > deadline])
