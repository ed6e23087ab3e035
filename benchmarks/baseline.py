"""Benchmark baseline (d): the batch of benchmarks/drafting.py (c), written by hand with LangChain.

The same letters (template `reponse-reclamation`, a different recipient name in each) are drafted the
way a developer would write them without courrier: langchain_community's `ChatLlamaCpp` on the same
GGUF file, with courrier's n_ctx, n_batch, threads, sampling parameters and per-section token budget,
and one chain `ChatPromptTemplate | ChatLlamaCpp | StrOutputParser()` per model-written section, whose
prompt gives the section's instructions, then the letter's data, then the section's vetted text.
No guards, no retry, no provenance: the letter is the vetted draft with the model's outputs put in.

Variant `same_messages`: the same `ChatLlamaCpp` gets exactly the messages courrier renders for each
section, so what differs from courrier is only how the prompt is evaluated: llama-cpp-python reuses
the longest common prefix with the previous prompt, where courrier evaluates it along a fixed path.

Measured: wall time, model calls, prompt tokens, the prompt tokens llama.cpp actually evaluated
(counted at its `eval`), generated tokens, and the ratio of evaluated tokens to those unique to each
letter (its data once, each section's own part: as `_unique_tokens` in benchmarks/drafting.py).
Needs langchain-community. Run: `python benchmarks/baseline.py [--letters 20] [--variante main|messages]`
(both variants by default), pinned to one core as benchmarks/drafting.py. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

from langchain_community.chat_models import ChatLlamaCpp
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from courrier import Drafter, LetterRequest, LocalChatModel, Template, TemplateLibrary
from courrier.drafting import LetterData
from courrier.model import LocalPort, ModelCache, to_langchain
from courrier.port import GENERATION_PARAMETERS
from courrier.rendering import SectionSpec

TEMPLATE = "reponse-reclamation"
REQUEST = Path(__file__).resolve().parent.parent / "examples" / "requests" / f"{TEMPLATE}.json"
SAMPLING: dict[str, Any] = {
    name: LocalChatModel.model_fields[name].default for name in GENERATION_PARAMETERS if name != "max_tokens"
}
"""courrier's sampling defaults (greedy, fixed seed)."""

HUMAN = """{instructions}
Longueur : entre {min_chars} et {max_chars} caractères.

Données du courrier :
{data}

Texte de référence de la section :
{vetted}

Réponds seulement par le texte de la section."""
"""The hand-written request: the section's instructions first, then the letter's data, then its text."""


@dataclass(frozen=True)
class CourrierSettings:
    """What `Drafter.local()` loads and asks for, read from courrier's own `LocalChatModel`."""

    model_path: str
    n_ctx: int
    n_batch: int
    n_threads: int
    max_tokens_by_section: Mapping[str, int]


@dataclass(frozen=True)
class BaselineFigures:
    """The figures of one baseline batch (tokens are totals over the batch)."""

    variant: str
    letters: int
    calls: int
    seconds: float
    prompt_seconds: float
    """Time spent in llama.cpp's evaluation of the prompts."""
    prompt_tokens: int
    evaluated_tokens: int
    unique_tokens: int | None
    """None where a prompt did not show the system message or the data verbatim."""
    output_tokens: int
    drafts: tuple[str, ...] = field(repr=False)
    """Each letter's text: the vetted draft with the model's outputs in their places."""

    @property
    def seconds_per_letter(self) -> float:
        return self.seconds / self.letters

    @property
    def prompt_tokens_per_call(self) -> float:
        return self.prompt_tokens / self.calls

    @property
    def ratio(self) -> float | None:
        return self.evaluated_tokens / self.unique_tokens if self.unique_tokens else None


def courrier_settings() -> CourrierSettings:
    """courrier's load settings (defaults and `COURRIER_*` variables) and its token budget for each
    model-written section, from a `LocalChatModel` built as `Drafter.local()` builds it. That loads the
    model once, in a cache of its own, dropped on return."""
    local = LocalChatModel(model_cache=ModelCache())
    budgets = {
        spec.id: LocalPort(local).token_budget(spec.max_chars)
        for spec in _model_sections(TemplateLibrary.default().get(TEMPLATE)).values()
        if spec.max_chars is not None
    }
    return CourrierSettings(local.model_path, local.n_ctx, local.n_batch, local.n_threads, budgets)


def baseline_batch(
    letters: int,
    *,
    n_ctx: int,
    n_batch: int,
    n_threads: int,
    max_tokens_by_section: Mapping[str, int] | None = None,
    same_messages: bool = False,
    model_path: str | None = None,
) -> BaselineFigures:
    """Draft `letters` letters with `ChatLlamaCpp`, one call per model-written section, and measure.

    `max_tokens_by_section` defaults to courrier's budgets, `model_path` to courrier's model file.
    The model is loaded before the clock starts, as in benchmarks/drafting.py (c).
    """
    if max_tokens_by_section is None or model_path is None:
        settings = courrier_settings()
        max_tokens_by_section = max_tokens_by_section or settings.max_tokens_by_section
        model_path = model_path or settings.model_path
    chat = ChatLlamaCpp(
        model_path=model_path,
        n_ctx=n_ctx,
        n_batch=n_batch,
        n_threads=n_threads,
        # ChatLlamaCpp leaves llama.cpp's prompt threads at all the cores, and forces a RoPE base of
        # 10000 over the model's own (SmolLM2: 100000): set both as courrier has them.
        model_kwargs={"n_threads_batch": n_threads},
        rope_freq_base=0.0,
        max_tokens=max(max_tokens_by_section.values()),
        verbose=False,
        **SAMPLING,
    )
    meter = _Meter(chat.client)
    drafter = Drafter(llm=None)
    template = drafter.library.get(TEMPLATE)
    specs = _model_sections(template)
    system = drafter.prompt.parts["system"]
    request = LetterRequest.from_json(REQUEST.read_text(encoding="utf-8"))
    human = ChatPromptTemplate.from_messages([("system", "{system}"), ("human", HUMAN)])
    chains = {
        section: human.partial(
            system=system,
            instructions=spec.instructions or "",
            min_chars=str(spec.min_chars),
            max_chars=str(spec.max_chars),
        )
        | chat.bind(max_tokens=max_tokens_by_section[section])
        | StrOutputParser()
        for section, spec in specs.items()
    }
    direct = {
        section: chat.bind(max_tokens=max_tokens_by_section[section]) | StrOutputParser() for section in specs
    }
    drafts = []
    shared_texts = []  # for each letter, what all its sections share: its data
    output_tokens = 0
    started = time.perf_counter()
    for number in range(letters):
        recipient = request.recipient.model_copy(update={"name": f"Usager numéro {number + 1}"})
        vetted = drafter.draft(request.model_copy(update={"recipient": recipient}))  # no model
        letter = LetterData(template, vetted.request, template.validate_facts(vetted.request.facts))
        data = json.dumps(_hand_data(vetted.request), ensure_ascii=False, indent=1)
        shared = data
        texts = []
        for paragraph in vetted.paragraphs:
            spec = specs.get(paragraph.section)
            if spec is None:
                texts.append(paragraph.text)
                continue
            if same_messages:
                rendered = drafter.section_prompt(letter, spec, paragraph.text)
                shared = rendered.shared
                output = direct[paragraph.section].invoke(to_langchain(rendered.messages))
            else:
                output = chains[paragraph.section].invoke({"data": data, "vetted": paragraph.text})
            texts.append(" ".join(output.split()))
            output_tokens += len(chat.client.tokenize(output.encode("utf-8"), add_bos=False, special=False))
        drafts.append("\n\n".join(texts))
        shared_texts.append(shared)
    seconds = time.perf_counter() - started
    calls = len(specs)
    counts = [
        _unique_tokens(chat.client, meter.prompts[calls * index : calls * (index + 1)], system, shared)
        for index, shared in enumerate(shared_texts)
    ]
    unique = None if None in counts else sum(count or 0 for count in counts)
    return BaselineFigures(
        variant="messages de courrier" if same_messages else "chaînes écrites à la main",
        letters=letters,
        calls=len(meter.prompts),
        seconds=seconds,
        prompt_seconds=meter.prompt_seconds,
        prompt_tokens=sum(len(prompt) for prompt in meter.prompts),
        evaluated_tokens=sum(meter.evaluated),
        unique_tokens=unique,
        output_tokens=output_tokens,
        drafts=tuple(drafts),
    )


def _model_sections(template: Template) -> dict[str, SectionSpec]:
    """The model-written sections (fill, rephrase), in the template's order."""
    return {spec.id: spec for spec in template.sections if spec.mode != "locked"}


def _hand_data(request: LetterRequest) -> dict[str, Any]:
    """The letter's data as a developer would dump it: who writes to whom, when, and the facts."""
    return {
        "expediteur": request.sender.service or request.sender.organisation,
        "destinataire": " ".join(filter(None, (request.recipient.civility, request.recipient.name))),
        "date": str(request.date),
        "reference": request.references.ours,
        **request.facts,
    }


class _Meter:
    """Records, on the `Llama` object under `ChatLlamaCpp`, each call's prompt tokens and how many of
    them llama.cpp evaluated: its first `eval` of a completion (the later ones each take one generated
    token), after it reused the longest common prefix with what the context held."""

    def __init__(self, llama: Any) -> None:
        self.prompts: list[list[int]] = []
        self.evaluated: list[int] = []
        self.prompt_seconds = 0.0
        self._new_prompt = False
        create_completion, evaluate = llama.create_completion, llama.eval

        def completion(*args: Any, **kwargs: Any) -> Any:
            self.prompts.append(list(kwargs["prompt"]))  # the chat handler passes the prompt's tokens
            self._new_prompt = True
            return create_completion(*args, **kwargs)

        def evaluation(tokens: Sequence[int]) -> None:
            if not self._new_prompt:
                return evaluate(tokens)  # type: ignore[no-any-return]
            self._new_prompt = False
            started = time.perf_counter()
            evaluate(tokens)
            self.prompt_seconds += time.perf_counter() - started
            self.evaluated.append(len(tokens))
            return None

        llama.create_completion = completion
        llama.eval = evaluation


def _unique_tokens(llama: Any, prompts: Sequence[list[int]], system: str, data: str) -> int | None:
    """The prompt tokens only this letter has: the tokens holding its data, once, and for each
    section every token after the system message but those of the data. With courrier's order this
    is `_unique_tokens` of benchmarks/drafting.py, give or take the user turn's header (counted per
    section here). None if a prompt does not show the system message or the data verbatim."""
    unique = 0
    for index, prompt in enumerate(prompts):
        system_span, data_span = _span(llama, prompt, system), _span(llama, prompt, data)
        if system_span is None or data_span is None:
            return None
        unique += len(prompt) - system_span[1] - (data_span[1] - data_span[0] if index else 0)
    return unique


def _span(llama: Any, prompt: Sequence[int], text: str) -> tuple[int, int] | None:
    """The tokens of `prompt` that hold the first occurrence of `text`: (first, end)."""
    pieces = [llama.detokenize([token], special=True) for token in prompt]
    start = b"".join(pieces).find(text.encode("utf-8"))
    if start < 0:
        return None
    ends = list(accumulate(len(piece) for piece in pieces))
    return bisect_right(ends, start), bisect_left(ends, start + len(text.encode("utf-8"))) + 1


def report(figures: BaselineFigures, settings: CourrierSettings) -> None:
    print(f"(d) lot de {figures.letters} courriers {TEMPLATE}, ChatLlamaCpp : {figures.variant}")
    budgets = ", ".join(f"{section} {tokens}" for section, tokens in settings.max_tokens_by_section.items())
    print(f"    n_ctx {settings.n_ctx}, n_batch {settings.n_batch}, threads {settings.n_threads}")
    print(f"    max_tokens par section : {budgets}")
    ratio = f"{figures.ratio:8.2f}" if figures.ratio is not None else "     n/d"
    unique = f"{figures.unique_tokens / figures.letters:8.0f}" if figures.unique_tokens else "     n/d"
    rows = [
        ("appels au modèle", f"{figures.calls:8}"),
        ("jetons de prompt par appel", f"{figures.prompt_tokens_per_call:8.0f}"),
        ("jetons générés par courrier", f"{figures.output_tokens / figures.letters:8.0f}"),
        ("jetons de prompt évalués par courrier", f"{figures.evaluated_tokens / figures.letters:8.0f}"),
        ("jetons propres à chaque courrier", unique),
        ("rapport", ratio),
        ("évaluation des prompts", f"{figures.prompt_seconds / figures.letters:8.2f} s par courrier"),
        ("durée", f"{figures.seconds_per_letter:8.2f} s par courrier"),
    ]
    for label, value in rows:
        print(f"    {label:37} : {value}")


def compare(letters: int, variants: Sequence[bool] = (False, True)) -> Iterator[BaselineFigures]:
    """Run and report the batch in each variant (`same_messages` or not) with courrier's settings."""
    settings = courrier_settings()
    for same_messages in variants:
        figures = baseline_batch(
            letters,
            n_ctx=settings.n_ctx,
            n_batch=settings.n_batch,
            n_threads=settings.n_threads,
            max_tokens_by_section=settings.max_tokens_by_section,
            same_messages=same_messages,
            model_path=settings.model_path,
        )
        report(figures, settings)
        yield figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=20, help="courriers du lot")
    parser.add_argument(
        "--variante",
        choices=("main", "messages", "les-deux"),
        default="les-deux",
        help="chaînes écrites à la main, messages de courrier, ou les deux (défaut)",
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as benchmarks/drafting.py
    variants: dict[str, tuple[bool, ...]] = {"main": (False,), "messages": (True,), "les-deux": (False, True)}
    for _ in compare(args.letters, variants[args.variante]):
        pass


if __name__ == "__main__":
    main()
