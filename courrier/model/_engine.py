"""The local model's engine: a GGUF file run in-process by llama.cpp, with no LangChain.

`LocalEngine` holds the settings, loads the file through the model cache, formats messages with the
GGUF's own chat template, tokenizes the prompt itself (so that a prompt too long for the context is a
typed error, not a crash), and serializes every call to one llama.cpp context with a lock: one context
is not thread-safe. It streams a reply piece by piece and stops it early by `courrier.port.early_stop`.
The drafter's `LocalPort` drives it directly; `LocalChatModel` is the same engine as a LangChain chat
model. Importing this module loads neither LangChain (nor, through it, langsmith and urllib3, which
opens a socket at import) nor llama.cpp, which loads with the first model file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

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

if TYPE_CHECKING:
    from llama_cpp import StoppingCriteriaList
    from llama_cpp.llama_grammar import LlamaGrammar

__all__ = ["LOCAL_KIND", "TEMPLATE_ROLES", "Completion", "LocalEngine", "LocalReplyMetadata", "Sampling"]

LOCAL_KIND = "courrier-llamacpp"
"""The local model's kind in the provenance record (`ModelRecord.kind`)."""

TEMPLATE_ROLES = {"human": "user", "ai": "assistant", "system": "system"}
"""A message's role (`courrier.port.Role`, LangChain's message types) as chat templates name it."""

_ENVIRONMENT = {
    "model_path": "COURRIER_MODEL_PATH",
    "n_ctx": "COURRIER_N_CTX",
    "n_threads": "COURRIER_N_THREADS",
    "n_batch": "COURRIER_N_BATCH",
    "prompt_lookup": "COURRIER_PROMPT_LOOKUP",
    "seed": "COURRIER_SEED",
}


class Sampling(TypedDict):
    """The sampling parameters of one llama.cpp completion (`GENERATION_PARAMETERS`)."""

    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    max_tokens: int
    seed: int


class LocalReplyMetadata(Sampling):
    """What a local reply reports: `LocalPort` reads it, `LocalChatModel` gives it as `response_metadata`."""

    finish_reason: str
    model_name: str
    model_sha256: str
    prompt_seconds: float
    generation_seconds: float
    reproducible: bool
    prefix_stages: list[int]
    prompt_tokens_evaluated: int | None


@dataclass(frozen=True)
class Completion:
    """What one completion gives back once its pieces are all generated."""

    text: str
    input_tokens: int
    output_tokens: int
    metadata: LocalReplyMetadata


class LocalEngine(BaseModel):
    """A GGUF model run in-process by llama.cpp: settings, loading, prompts, sampling, streaming.

    Settings not given come from `COURRIER_MODEL_PATH`, `COURRIER_N_CTX`, `COURRIER_N_THREADS`,
    `COURRIER_N_BATCH`, `COURRIER_PROMPT_LOOKUP`, `COURRIER_SEED`; the model path defaults to the
    embedded model. Greedy by default (temperature 0) with a fixed seed. The file is loaded (once per
    file and load settings, `model_cache`) when the engine is built.
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
    verbose: bool = Field(default=False, description="Let llama.cpp write its log to stderr.")
    reproducible: bool = Field(
        default=True,
        description="Evaluate the shared prompt prefix along a fixed path (the system message, then the "
        "`shared_prefix` a call names), so that the same prompt and seed give the same output, whatever "
        "the model generated before; the prefix is still reused between calls.",
    )
    model_cache: ModelCache = Field(default=MODEL_CACHE, exclude=True)

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())
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

    def load_settings(self) -> dict[str, int]:
        """The settings the model file is loaded with (`LOAD_SETTINGS`)."""
        return {name: getattr(self, name) for name in LOAD_SETTINGS}

    def generation_parameters(self, **overrides: Any) -> dict[str, Any]:
        """The sampling parameters of a call: the model's settings with the call's overrides."""
        return {name: overrides.get(name, getattr(self, name)) for name in GENERATION_PARAMETERS}

    def sampling(self, options: CallOptions, kwargs: Mapping[str, Any] | None = None) -> Sampling:
        """The sampling parameters of a call: the model's settings, the call's overrides (`kwargs`),
        then the budget and seed its options set."""
        overrides = {**(kwargs or {}), "max_tokens": options.max_tokens}
        if options.seed is not None:
            overrides["seed"] = options.seed
        return cast("Sampling", self.generation_parameters(**overrides))

    def complete(
        self,
        messages: list[dict[str, str]],
        options: CallOptions,
        *,
        overrides: Mapping[str, Any] | None = None,
        stop: list[str] | None = None,
        json_schema: str | None = None,
    ) -> Generator[str, None, Completion]:
        """Generate the reply to `messages` (roles as chat templates name them): yield its pieces as
        they come, then return the whole `Completion`.

        `overrides`: sampling parameters of this call (see `sampling`). `stop`: stop sequences in place
        of the model's own `stop`. `json_schema`: a JSON Schema (as JSON text) every output follows,
        through a llama.cpp grammar. `ContextOverflow` for a prompt as long as the context.
        """
        model = self._model
        params = self.sampling(options, overrides)
        grammar = self._grammar(json_schema) if json_schema else None
        formatted = model.formatter(messages=messages)  # type: ignore[arg-type]
        with model.lock:
            prompt = model.llama.tokenize(
                formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
            )
            if len(prompt) >= self.n_ctx:
                raise ContextOverflow(len(prompt), self.n_ctx)
            started = time.perf_counter()
            stages, evaluated = self._evaluate_prefix(messages, prompt, options, formatted.added_special)
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
                yield piece
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
        return Completion(text=text, input_tokens=len(prompt), output_tokens=output_tokens, metadata=metadata)

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


def _with_deadline(
    criteria: StoppingCriteriaList | None, deadline: float | None
) -> StoppingCriteriaList | None:
    """The chat format's stopping criteria, and a stop once `deadline` (perf_counter) has passed."""
    if deadline is None:
        return criteria
    from llama_cpp import StoppingCriteriaList

    return StoppingCriteriaList([*(criteria or []), lambda _tokens, _logits: time.perf_counter() > deadline])
