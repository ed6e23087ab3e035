"""`courrier.testing.ScriptedChatModel`: scripted replies, generated piece by piece under the call
options as the local model generates its own, alone and through the drafter's port."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from pydantic import Field

from courrier import Draft, Drafter, LetterRequest, Paragraph, TemplateLibrary, UserError, verify
from courrier.guards import QUOTE_SLACK
from courrier.model import GenericPort, port_for
from courrier.port import CallOptions, PromptMessage
from courrier.record import ParagraphRecord, text_sha256
from courrier.testing import SCRIPTED_KIND, ScriptedChatModel

from .conftest import EXAMPLE_REQUESTS, ROOT

EXPLANATION = (
    "Votre demande porte sur la place de l'Église un samedi, jour de marché. L'arrêté municipal y interdit "
    "alors toute installation commerciale : votre demande ne peut donc pas être acceptée."
)
CONTACT = (
    "Pour toute question sur cette décision, nos services restent à votre disposition. "
    "Merci de rappeler la référence de ce courrier."
)
INVENTED_DATE = "Votre dossier sera traité le 3 mars 2031. " + " ".join([EXPLANATION] * 4)
"""Its first sentence names a date that no data holds; the rest would pass."""

TOO_LONG = " ".join([EXPLANATION] * 7)
"""Sentences the guards accept, past the 900 characters the explanation may take."""


def request_for(template_id: str) -> LetterRequest:
    path = ROOT / "examples" / "requests" / f"{template_id}.json"
    return LetterRequest.from_json(path.read_text(encoding="utf-8"))


def section(draft: Draft, name: str) -> tuple[Paragraph, ParagraphRecord]:
    index = next(i for i, p in enumerate(draft.paragraphs) if p.section == name)
    return draft.paragraphs[index], draft.provenance.paragraphs[index]


def vetted_text(library: TemplateLibrary, template_id: str, name: str) -> str:
    return section(Drafter(library, llm=None).draft(request_for(template_id)), name)[0].text


def reply(llm: ScriptedChatModel, **kwargs: Any) -> AIMessage:
    message = llm.invoke("Écrivez.", **kwargs)
    assert isinstance(message, AIMessage)
    return message


# --- the model alone ------------------------------------------------------------------------------


def test_a_reply_within_its_budget_is_the_whole_text_and_ends_with_stop() -> None:
    llm = ScriptedChatModel(responses=["Bonjour madame."], chars_per_token=4)
    message = reply(llm, call_options=CallOptions(max_tokens=10))
    assert message.text == "Bonjour madame."
    assert message.response_metadata == {"finish_reason": "stop", "max_tokens": 10}
    assert message.usage_metadata == {"input_tokens": 2, "output_tokens": 4, "total_tokens": 6}


def test_a_reply_stops_at_its_token_budget() -> None:
    llm = ScriptedChatModel(responses=["abcdefghijkl"], chars_per_token=2)
    message = reply(llm, call_options=CallOptions(max_tokens=3))
    assert message.text == "abcdef"
    assert message.response_metadata == {"finish_reason": "length", "max_tokens": 3}
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 3


def test_a_reply_that_fills_its_budget_exactly_is_not_cut() -> None:
    llm = ScriptedChatModel(responses=["abcdef"], chars_per_token=2)
    message = reply(llm, call_options=CallOptions(max_tokens=3))
    assert (message.text, message.response_metadata["finish_reason"]) == ("abcdef", "stop")


def test_without_call_options_the_call_s_or_the_model_s_budget_applies() -> None:
    llm = ScriptedChatModel(responses=["abcdefghijkl"], chars_per_token=2, max_tokens=2)
    own = reply(llm)
    assert (own.text, own.response_metadata) == ("abcd", {"finish_reason": "length", "max_tokens": 2})
    given = reply(llm, max_tokens=5)
    assert (given.text, given.response_metadata) == (
        "abcdefghij",
        {"finish_reason": "length", "max_tokens": 5},
    )


def test_a_reply_stops_after_the_piece_that_passes_its_length_bound() -> None:
    llm = ScriptedChatModel(responses=["abcdefghijklmnop"], chars_per_token=4)
    message = reply(llm, call_options=CallOptions(max_tokens=100, max_chars=5))
    assert message.text == "abcdefgh"
    assert message.response_metadata["finish_reason"] == "length"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 2


def test_the_early_stop_check_sees_each_piece_and_stops_the_reply() -> None:
    seen: list[str] = []

    def refuse_a_sentence_end(text: str) -> bool:
        seen.append(text)
        return "." in text

    llm = ScriptedChatModel(responses=["Non. Vraiment pas."], chars_per_token=3)
    message = reply(llm, call_options=CallOptions(max_tokens=100, stop_when=refuse_a_sentence_end))
    assert seen == ["Non", "Non. V"]
    assert message.text == "Non. V"
    assert message.response_metadata["finish_reason"] == "interrupted"


def test_the_length_bound_is_checked_before_the_early_stop_check() -> None:
    llm = ScriptedChatModel(responses=["abcdefgh"], chars_per_token=4)
    options = CallOptions(max_tokens=100, max_chars=3, stop_when=lambda text: True)
    assert reply(llm, call_options=options).response_metadata["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("model_stop", "options_stop", "call_stop", "expected"),
    [
        (None, ("FIN",), None, "Texte "),
        (None, (), ["###"], "Texte FIN suite "),
        (["suite"], (), None, "Texte FIN "),
        (["suite"], (), ["###"], "Texte FIN suite "),  # the call's stop replaces the model's
        (None, ("###",), ["FIN"], "Texte "),  # the first one the text holds
    ],
)
def test_a_reply_ends_before_its_first_stop_sequence(
    model_stop: list[str] | None, options_stop: tuple[str, ...], call_stop: list[str] | None, expected: str
) -> None:
    llm = ScriptedChatModel(responses=["Texte FIN suite ### reste"], chars_per_token=4, stop=model_stop)
    message = reply(llm, call_options=CallOptions(max_tokens=100, stop=options_stop), stop=call_stop)
    assert message.text == expected
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == math.ceil(len(expected) / 4)


def test_a_stop_sequence_past_the_budget_leaves_a_length_stop() -> None:
    llm = ScriptedChatModel(responses=["abcdefghFIN"], chars_per_token=2)
    message = reply(llm, call_options=CallOptions(max_tokens=2, stop=("FIN",)))
    assert (message.text, message.response_metadata["finish_reason"]) == ("abcd", "length")


def test_a_reply_is_interrupted_once_its_timeout_has_passed() -> None:
    llm = ScriptedChatModel(responses=["x" * 200], chars_per_token=1, sleep=0.005)
    message = reply(llm, call_options=CallOptions(max_tokens=500, timeout=0.05))
    assert message.response_metadata["finish_reason"] == "interrupted"
    assert 0 < len(message.text) < 200


def test_replies_cycle_through_the_script_in_order() -> None:
    llm = ScriptedChatModel(responses=["un", "deux", "trois"])
    assert [reply(llm).text for _ in range(5)] == ["un", "deux", "trois", "un", "deux"]


def test_concurrent_calls_each_take_their_own_scripted_text() -> None:
    texts = [f"réponse {number}" for number in range(8)]
    llm = ScriptedChatModel(responses=texts, sleep=0.001)
    replies = llm.batch([f"demande {number}" for number in range(8)], {"max_concurrency": 8})
    assert sorted(message.text for message in replies) == sorted(texts)
    assert sorted(call[0].text for call in llm.calls) == sorted(f"demande {number}" for number in range(8))


def test_a_copy_keeps_the_script_and_its_place_in_it() -> None:
    llm = ScriptedChatModel(responses=["un", "deux"])
    reply(llm)
    copied = copy.deepcopy(llm)
    assert (reply(copied).text, reply(llm).text) == ("deux", "deux")
    assert len(copied.calls) == len(llm.calls) == 2


def test_an_empty_reply_has_no_piece_but_its_usage() -> None:
    llm = ScriptedChatModel(responses=[""])
    message = reply(llm)
    assert message.text == ""
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 0


def test_an_empty_script_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 item"):
        ScriptedChatModel(responses=[])


def test_call_options_of_another_type_are_refused() -> None:
    llm = ScriptedChatModel(responses=["x"])
    with pytest.raises(UserError, match="CallOptions attendu, pas dict"):
        llm.invoke("Écrivez.", call_options={"max_tokens": 3})


class _Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        assert isinstance(token, str)
        self.tokens.append(token)


def test_a_call_reports_each_piece_to_the_callbacks() -> None:
    tokens = _Tokens()
    llm = ScriptedChatModel(responses=["abcdefghij"], chars_per_token=4)
    message = llm.invoke("Écrivez.", {"callbacks": [tokens]}, call_options=CallOptions(max_tokens=2))
    assert tokens.tokens == ["abcd", "efgh"]
    assert message.text == "abcdefgh"


def test_streaming_gives_the_reply_piece_by_piece_then_its_usage() -> None:
    llm = ScriptedChatModel(responses=["abcdefghij"], chars_per_token=4)
    chunks = list(llm.stream("Écrivez.", call_options=CallOptions(max_tokens=10)))
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    assert [chunk.text for chunk in chunks] == ["abcd", "efgh", "ij", ""]
    last = chunks[-1]
    assert isinstance(last, AIMessageChunk)
    assert last.usage_metadata == {"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}
    assert last.response_metadata["finish_reason"] == "stop"


def test_a_stream_stops_where_invoke_does() -> None:
    llm = ScriptedChatModel(responses=["abcdefghij"], chars_per_token=4)
    options = CallOptions(max_tokens=10, max_chars=5)
    streamed = list(llm.stream("Écrivez.", call_options=options))
    assert [chunk.text for chunk in streamed] == ["abcd", "efgh", ""]
    assert streamed[-1].response_metadata["finish_reason"] == "length"
    assert reply(llm, call_options=options).text == "abcdefgh"


async def test_an_async_call_is_scripted_and_recorded_too() -> None:
    llm = ScriptedChatModel(responses=["abcdefgh"], chars_per_token=2)
    message = await llm.ainvoke("Écrivez.", call_options=CallOptions(max_tokens=2))
    assert (message.text, message.response_metadata["finish_reason"]) == ("abcd", "length")
    assert [[m.text for m in call] for call in llm.calls] == [["Écrivez."]]


def test_each_call_s_messages_are_recorded_in_order() -> None:
    llm = ScriptedChatModel(responses=["un", "deux"])
    first = [SystemMessage("Consignes."), HumanMessage("Première demande.")]
    second = [HumanMessage("Deuxième demande.")]
    llm.invoke(first)
    list(llm.stream(second))
    assert llm.calls == (tuple(first), tuple(second))
    assert isinstance(llm.calls, tuple)
    assert all(isinstance(call, tuple) for call in llm.calls)


def test_the_prompt_s_tokens_count_its_characters() -> None:
    llm = ScriptedChatModel(responses=["x"], chars_per_token=3)
    message = llm.invoke([SystemMessage("abcd"), HumanMessage("efghi")])  # nine characters
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == 3


# --- through the drafter's port -------------------------------------------------------------------


class _Kwargs(FakeListChatModel):
    """A chat model that keeps the keywords of every call."""

    seen: list[dict[str, Any]] = Field(default_factory=list)

    def _call(self, *args: Any, **kwargs: Any) -> str:
        self.seen.append(
            {name: value for name, value in kwargs.items() if name not in {"stop", "run_manager"}}
        )
        return super()._call(*args, **kwargs)


def test_the_generic_port_passes_call_options_to_a_model_that_honours_them() -> None:
    llm = ScriptedChatModel(responses=["abcdefghijkl"], chars_per_token=2)
    port = port_for(llm)
    assert isinstance(port, GenericPort)
    options = CallOptions(max_tokens=3)
    assert port.parameters(options) == {"max_tokens": 3}
    answer = port.invoke([PromptMessage("human", "Écrivez.")], options)
    assert answer.text == "abcdef"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (4, 3)
    assert answer.usage.finish_reason == "length"
    assert answer.parameters == {"max_tokens": 3}
    assert port.record.kind == SCRIPTED_KIND
    assert port.record.settings == {"chars_per_token": 2, "max_tokens": 512, "timeout": None}


def test_the_generic_port_calls_any_other_model_as_before() -> None:
    llm = _Kwargs(responses=["Texte."])
    port = port_for(llm)
    options = CallOptions(max_tokens=3, max_chars=2)
    assert port.parameters(options) == {}
    answer = port.invoke([PromptMessage("human", "Écrivez.")], options)
    assert answer.text == "Texte."
    assert llm.seen == [{}]
    assert answer.parameters == {}


def test_an_accepted_output_is_a_model_paragraph_with_its_usage(library: TemplateLibrary) -> None:
    llm = ScriptedChatModel(responses=[EXPLANATION, CONTACT])
    draft = Drafter(library, llm=llm, max_retries=0).draft(request_for("decision-defavorable"))
    paragraph, entry = section(draft, "explication")
    assert (paragraph.origin, paragraph.text, entry.origin) == ("model", EXPLANATION, "model")
    (attempt,) = entry.attempts
    assert attempt.accepted
    assert attempt.usage is not None
    prompt = llm.calls[0]
    assert [message.type for message in prompt] == ["system", "human"]
    assert attempt.usage.input_tokens == math.ceil(sum(len(message.text) for message in prompt) / 4)
    assert attempt.usage.output_tokens == math.ceil(len(EXPLANATION) / 4)
    assert attempt.usage.finish_reason == "stop"
    assert attempt.parameters == {"max_tokens": 900 // 3 + 16}  # the port's budget for 900 characters
    assert attempt.output_sha256 == text_sha256(EXPLANATION)
    assert section(draft, "contact")[0].origin == "model"
    assert len(llm.calls) == 2
    assert draft.provenance.model is not None
    assert draft.provenance.model.kind == SCRIPTED_KIND
    verify(draft, library=library)


def test_an_invented_date_stops_generation_at_its_sentence_and_the_vetted_text_stays(
    library: TemplateLibrary,
) -> None:
    llm = ScriptedChatModel(responses=[INVENTED_DATE, CONTACT])
    draft = Drafter(library, llm=llm, max_retries=0).draft(request_for("decision-defavorable"))
    paragraph, entry = section(draft, "explication")
    assert (paragraph.origin, entry.origin) == ("template", "template")
    assert paragraph.text == vetted_text(library, "decision-defavorable", "explication")
    (attempt,) = entry.attempts
    assert attempt.usage is not None
    assert attempt.usage.finish_reason == "interrupted"
    first_sentence = len("Votre dossier sera traité le 3 mars 2031. ")
    assert attempt.usage.output_tokens is not None
    assert first_sentence <= attempt.usage.output_tokens * 4 < first_sentence + 8  # nothing past it
    failed = {verdict.guard for verdict in attempt.verdicts if not verdict.passed}
    assert {"invented_items", "complete"} <= failed
    assert entry.fallback_reason is not None
    assert "3 mars 2031" in entry.fallback_reason
    assert section(draft, "contact")[0].origin == "model"
    verify(draft, library=library)


def test_a_retry_after_an_early_stop_takes_the_next_scripted_text(library: TemplateLibrary) -> None:
    llm = ScriptedChatModel(responses=[INVENTED_DATE, EXPLANATION, CONTACT])
    draft = Drafter(library, llm=llm, max_retries=1).draft(request_for("decision-defavorable"))
    paragraph, entry = section(draft, "explication")
    assert (paragraph.origin, paragraph.text) == ("model", EXPLANATION)
    first, second = entry.attempts
    assert first.usage is not None
    assert second.usage is not None
    assert (first.usage.finish_reason, second.usage.finish_reason) == ("interrupted", "stop")
    assert "3 mars 2031" in str(llm.calls[1][-1].content)  # the retry says what was refused
    verify(draft, library=library)


def test_an_output_past_the_section_s_length_stops_with_length(library: TemplateLibrary) -> None:
    llm = ScriptedChatModel(responses=[TOO_LONG, CONTACT])
    draft = Drafter(library, llm=llm, max_retries=0).draft(request_for("decision-defavorable"))
    paragraph, entry = section(draft, "explication")
    assert paragraph.origin == "template"
    (attempt,) = entry.attempts
    assert attempt.usage is not None
    assert attempt.usage.finish_reason == "length"
    bound = 900 + QUOTE_SLACK
    assert attempt.usage.output_tokens is not None
    assert bound < attempt.usage.output_tokens * 4 <= bound + 4  # the piece that passed the bound, no more
    assert attempt.output_sha256 == text_sha256(TOO_LONG[: attempt.usage.output_tokens * 4])
    assert entry.fallback_reason is not None
    assert "complete" in entry.fallback_reason
    verify(draft, library=library)


def test_an_output_stops_at_the_port_s_token_budget(library: TemplateLibrary) -> None:
    llm = ScriptedChatModel(responses=[TOO_LONG, CONTACT], chars_per_token=1)
    draft = Drafter(library, llm=llm, max_retries=0).draft(request_for("decision-defavorable"))
    _, entry = section(draft, "explication")
    (attempt,) = entry.attempts
    assert attempt.usage is not None
    budget = 900 // 3 + 16
    assert (attempt.usage.output_tokens, attempt.usage.finish_reason) == (budget, "length")
    assert attempt.output_sha256 == text_sha256(TOO_LONG[:budget])
    verify(draft, library=library)


@pytest.mark.parametrize("path", EXAMPLE_REQUESTS, ids=lambda path: path.stem)
def test_every_example_keeps_its_vetted_text_when_each_output_invents_a_date(
    path: Path, library: TemplateLibrary
) -> None:
    request = LetterRequest.from_json(path.read_text(encoding="utf-8"))
    llm = ScriptedChatModel(responses=[INVENTED_DATE])
    draft = Drafter(library, llm=llm, max_retries=0).draft(request)
    vetted = Drafter(library, llm=None).draft(request)
    assert [p.text for p in draft.paragraphs] == [p.text for p in vetted.paragraphs]
    attempts = [attempt for entry in draft.provenance.paragraphs for attempt in entry.attempts]
    assert len(attempts) == len(llm.calls) > 0
    assert all(a.usage is not None and a.usage.finish_reason == "interrupted" for a in attempts)
    verify(draft, library=library)
