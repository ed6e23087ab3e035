"""The local model (embedded GGUF): replies, usage, streams, threads, tools, typed errors, no network."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel, Field

from courrier import ContextOverflow, Drafter, LocalChatModel, ModelLoadError, TemplateLibrary, UserError
from courrier.model import GenericPort, LocalEngine, LocalPort, ModelCache, default_model_path
from courrier.model._tools import to_llama_messages, tool_reply
from courrier.port import CallOptions


@pytest.fixture(scope="module")
def model() -> LocalChatModel:
    return LocalChatModel(max_tokens=24)


@pytest.mark.local_model
def test_default_model_replies_with_usage(model: LocalChatModel) -> None:
    reply = model.invoke("Bonjour")
    assert isinstance(reply.content, str)
    assert reply.content.strip()
    usage = reply.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0
    assert 0 < usage["output_tokens"] <= 24 + 1
    assert reply.response_metadata["model_sha256"] == model.fingerprint.sha256
    assert reply.response_metadata["seed"] == 0
    assert reply.response_metadata["temperature"] == 0.0


@pytest.mark.local_model
def test_fingerprint(model: LocalChatModel) -> None:
    fingerprint = model.fingerprint
    path = default_model_path()
    assert fingerprint.file_name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert fingerprint.size == path.stat().st_size
    assert fingerprint.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fingerprint.architecture == "llama"
    assert fingerprint.quantization == "Q4_1"
    assert fingerprint.chat_template_sha256
    assert model._identifying_params["model_sha256"] == fingerprint.sha256


@pytest.mark.local_model
def test_one_loaded_model_per_file(model: LocalChatModel) -> None:
    again = LocalChatModel(max_tokens=5, temperature=0.3)
    assert again._model is model._model


@pytest.mark.local_model
def test_streaming_reports_tokens_to_callbacks(model: LocalChatModel) -> None:
    class Collect(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
            assert isinstance(token, str)
            self.tokens.append(token)

    collector = Collect()
    chunks = list(model.stream("Dis bonjour", config={"callbacks": [collector]}))
    text = "".join(str(chunk.content) for chunk in chunks)
    assert text
    assert "".join(collector.tokens) == text
    assert sum(1 for c in chunks if c.usage_metadata) == 1


@pytest.mark.local_model
def test_structured_output_is_validated(model: LocalChatModel) -> None:
    class Sentiment(BaseModel):
        label: str = Field(max_length=20)
        positive: bool

    result = model.with_structured_output(Sentiment).invoke("Le service était parfait.", max_tokens=60)
    assert isinstance(result, Sentiment)


@pytest.mark.local_model
def test_calls_from_many_threads_are_serialized(model: LocalChatModel) -> None:
    prompts: list[LanguageModelInput] = [f"Compte jusqu'à {n}" for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda p: model.invoke(p, max_tokens=8), prompts))
    assert all(reply.content for reply in replies)
    assert len(model.batch(prompts[:3], max_tokens=8)) == 3


@pytest.mark.local_model
def test_async_call_does_not_block_the_event_loop(model: LocalChatModel) -> None:
    async def scenario() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        task = asyncio.create_task(ticker())
        await model.ainvoke("Raconte une histoire", max_tokens=40)
        task.cancel()
        return ticks

    assert asyncio.run(scenario()) > 3


@pytest.mark.local_model
def test_same_seed_same_output(model: LocalChatModel) -> None:
    # With a system message the prompt has a prefix stage, evaluated along a fixed path: the second
    # call does not read its whole prompt from llama.cpp's cache, which changes the logits a little.
    messages = [("system", "Tu écris en français."), ("human", "Écris une phrase sur la mairie.")]
    first = model.invoke(messages, max_tokens=16, temperature=0.8, seed=3)
    second = model.invoke(messages, max_tokens=16, temperature=0.8, seed=3)
    assert first.response_metadata["reproducible"] is True
    assert first.content == second.content


@pytest.mark.local_model
def test_prompt_longer_than_context_is_a_typed_error() -> None:
    small = LocalChatModel(n_ctx=64)
    with pytest.raises(ContextOverflow) as caught:
        small.invoke("mot " * 200)
    assert caught.value.n_ctx == 64
    assert caught.value.prompt_tokens > 64


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "introuvable"),
        (b"pas un modele" * 10, "pas un fichier GGUF"),
        pytest.param("truncated", "refuse", marks=pytest.mark.local_model),
    ],
    ids=["missing", "not-gguf", "truncated"],
)
def test_bad_model_files_are_typed_errors(tmp_path: Path, content: bytes | str | None, reason: str) -> None:
    path = tmp_path / "modele.gguf"
    if content == "truncated":
        with default_model_path().open("rb") as handle:
            path.write_bytes(handle.read(3_000_000))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ModelLoadError) as caught:
        LocalChatModel(model_path=str(path), model_cache=ModelCache())
    assert reason in str(caught.value)
    assert caught.value.path.endswith("modele.gguf")


def test_file_hash_is_cached_by_path_size_and_mtime(tmp_path: Path) -> None:
    cache = ModelCache()
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 10)
    first = cache.file_sha256(path)
    stat = path.stat()
    path.write_bytes(b"b" * 10)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.file_sha256(path) == first  # same path, size and mtime: not hashed again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache.file_sha256(path) == hashlib.sha256(b"b" * 10).hexdigest()


@pytest.mark.local_model
def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURRIER_MODEL_PATH", str(default_model_path()))
    monkeypatch.setenv("COURRIER_N_THREADS", "1")
    monkeypatch.setenv("COURRIER_N_CTX", "1024")
    monkeypatch.setenv("COURRIER_PROMPT_LOOKUP", "6")
    model = LocalChatModel()
    assert (model.n_threads, model.n_ctx, model.prompt_lookup) == (1, 1024, 6)
    assert LocalChatModel(n_threads=2).n_threads == 2


@pytest.mark.parametrize(
    ("cores", "threads"), [({0}, 1), ({0, 1}, 1), (set(range(3)), 1), (set(range(16)), 8)]
)
def test_default_threads_leave_half_the_allowed_cores(
    monkeypatch: pytest.MonkeyPatch, cores: set[int], threads: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: cores)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the machine's cores, not those allowed
    assert LocalChatModel.model_fields["n_threads"].get_default(call_default_factory=True) == threads


@pytest.mark.local_model
def test_generation_stops_once_the_reply_is_longer_than_max_chars(model: LocalChatModel) -> None:
    prompt = "Liste les nombres de 1 à 200 séparés par des virgules."  # a hundred tokens and more
    assert len(model.invoke(prompt, max_tokens=300).text) > 100
    reply = model.invoke(prompt, call_options=CallOptions(max_tokens=300, max_chars=60))
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] < 300
    assert 60 < len(" ".join(reply.text.split())) < 60 + 40  # stopped at the piece that went past


@pytest.mark.local_model
def test_a_check_on_the_reply_so_far_stops_generation(model: LocalChatModel) -> None:
    seen: list[str] = []

    def long_enough(text: str) -> bool:
        seen.append(text)
        return len(text) > 30

    prompt = "Liste les nombres de 1 à 200 séparés par des virgules."
    reply = model.invoke(prompt, call_options=CallOptions(max_tokens=300, stop_when=long_enough))
    assert reply.response_metadata["finish_reason"] == "interrupted"
    assert reply.text == seen[-1]
    assert len(seen[-2]) <= 30 < len(reply.text)


@pytest.mark.local_model
def test_prompt_lookup_decoding_is_opt_in(model: LocalChatModel) -> None:
    assert model.prompt_lookup == 0
    assert model._model.llama.draft_model is None
    looked_up = LocalChatModel(prompt_lookup=8, max_tokens=40)
    assert looked_up._model.llama.draft_model is not None
    assert looked_up.load_settings()["prompt_lookup"] == 8
    reply = looked_up.invoke("Recopie : votre demande a bien été reçue par le service de la voirie.")
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] > 0


@pytest.mark.local_model
def test_no_socket_is_opened(socket_disabled: None) -> None:
    model = LocalChatModel(model_cache=ModelCache(), max_tokens=4)
    assert model.invoke("Bonjour").content


@pytest.mark.local_model
def test_quiet_by_default() -> None:
    code = "from courrier import LocalChatModel; LocalChatModel(max_tokens=4).invoke('Bonjour')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr == ""


@pytest.mark.local_model
def test_the_drafter_speaks_to_the_local_model_through_its_port(model: LocalChatModel) -> None:
    drafter = Drafter.local(library=TemplateLibrary.default(), max_tokens=8)
    assert type(drafter.llm) is LocalEngine  # the engine itself: no LangChain on the default path
    assert isinstance(drafter.port, LocalPort)
    assert drafter.port.record.fingerprint == model.fingerprint
    assert drafter.port.token_budget(3_000) == 8  # never past the model's own max_tokens
    given = Drafter(library=drafter.library, llm=model).port  # a LocalChatModel is the same engine
    assert isinstance(given, LocalPort)
    assert given.record == drafter.port.record
    assert isinstance(Drafter(llm=FakeListChatModel(responses=["ok"])).port, GenericPort)


@pytest.mark.local_model
def test_the_seed_is_a_call_setting_not_a_second_context(model: LocalChatModel) -> None:
    seeded = LocalChatModel(seed=1, max_tokens=4)
    assert seeded._model is model._model
    assert seeded.invoke("Bonjour").response_metadata["seed"] == 1
    options = CallOptions(max_tokens=4, seed=7)
    assert model.invoke("Bonjour", call_options=options).response_metadata["seed"] == 7


@tool
def add(a: int, b: int) -> int:
    """Additionne deux entiers."""
    return a + b


@tool
def echo(text: str) -> str:
    """Renvoie le texte donné."""
    return text


TOOLS: dict[str, BaseTool] = {"add": add, "echo": echo}


def assert_valid_reply(reply: AIMessage, call_id: str) -> None:
    """One call to a bound tool with valid arguments, or a final answer: structure, never wording."""
    assert isinstance(reply, AIMessage)
    assert reply.invalid_tool_calls == []
    assert len(reply.tool_calls) <= 1
    for call in reply.tool_calls:
        assert call["id"] == call_id
        result = TOOLS[call["name"]].invoke(call)  # validates the arguments against the tool's schema
        assert isinstance(result, ToolMessage)
        assert result.status == "success"
    if not reply.tool_calls:
        assert isinstance(reply.content, str)
        assert reply.content
    assert reply.usage_metadata is not None
    assert reply.response_metadata["finish_reason"] == "stop"


@pytest.mark.local_model
def test_bound_tools_give_a_call_or_an_answer(model: LocalChatModel) -> None:
    reply = model.bind_tools(list(TOOLS.values())).invoke("Combien font 2 + 3 ?", max_tokens=120)
    assert_valid_reply(reply, "call_1")


@pytest.mark.local_model
def test_tool_choice_forces_a_call(model: LocalChatModel) -> None:
    reply = model.bind_tools(list(TOOLS.values()), tool_choice="add").invoke("Bonjour", max_tokens=60)
    assert [call["name"] for call in reply.tool_calls] == ["add"]
    args = reply.tool_calls[0]["args"]
    assert set(args) == {"a", "b"}
    assert all(type(value) is int for value in args.values())
    with pytest.raises(UserError, match="aucun outil lié"):
        model.bind_tools(list(TOOLS.values()), tool_choice="multiply")


@pytest.mark.local_model
def test_a_conversation_with_tool_calls_and_results(model: LocalChatModel) -> None:
    conversation = [
        SystemMessage("Tu calcules."),
        HumanMessage("Combien font 2 + 3 ?"),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1"}]),
        ToolMessage("5", tool_call_id="call_1"),
    ]
    bound = model.bind_tools(list(TOOLS.values()))
    assert_valid_reply(bound.invoke(conversation, max_tokens=120), "call_2")
    chunks = list(bound.stream(conversation, max_tokens=120))  # with tools, the reply comes whole
    assert len(chunks) == 1
    assert isinstance(chunks[0], AIMessage)
    assert_valid_reply(chunks[0], "call_2")


def test_tool_calls_and_results_are_rendered_for_the_template() -> None:
    rendered = to_llama_messages(
        [
            HumanMessage("Combien font 2 + 3 ?"),
            AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1"}]),
            ToolMessage("5", tool_call_id="call_1"),
        ]
    )
    assert rendered[1:] == [
        {"role": "assistant", "content": '{"outil": "add", "arguments": {"a": 2, "b": 3}}'},
        {"role": "user", "content": "Résultat de l'outil add : 5"},
    ]


def test_tool_output_is_parsed_into_a_call_or_an_answer() -> None:
    call = tool_reply('{"outil": "add", "arguments": {"a": 2, "b": 3}}', call_id="call_4")
    assert call["content"] == ""
    assert [(c["name"], c["args"], c["id"]) for c in call["tool_calls"]] == [
        ("add", {"a": 2, "b": 3}, "call_4")
    ]
    assert tool_reply('{"reponse": "Cinq."}', call_id="call_4") == {"content": "Cinq."}
    cut = tool_reply('{"outil": "echo", "arguments": {"text": "bon', call_id="call_4")
    assert cut["content"] == ""
    [invalid] = cut["invalid_tool_calls"]
    assert invalid["id"] == "call_4"
    assert invalid["args"].startswith('{"outil": "echo"')
    assert "incomplète" in (invalid["error"] or "")
