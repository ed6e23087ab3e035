"""Benchmark: drafting without a model, with the embedded model, in a batch, and against a baseline.

Prints, on one core:
(a) template-only letters per second, against rendering the same Jinja2 sources directly;
(b) each shipped example drafted with the embedded model: time in prompt evaluation, in generation and
    in courrier itself, and courrier's share of the model's time;
(c) a batch of letters of one template: prompt tokens evaluated per letter against those unique to it;
(e) the peak RSS so far, against the model file's size;
(f) the examples of (b) again with prompt-lookup decoding: generation speed, outputs unchanged or not;
(d) the batch of (c) written by hand with langchain_community's ChatLlamaCpp (benchmarks/baseline.py),
    and how much faster courrier is.
Run: `make bench`, or `python benchmarks/drafting.py` (`--no-model` for part a only, `--no-baseline`
without f and d). Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from courrier import Draft, Drafter, LetterRequest, TemplateLibrary
from courrier.french import FILTERS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "requests").glob("*.json"))
BATCH_TEMPLATE = "reponse-reclamation"


def _requests() -> list[LetterRequest]:
    return [LetterRequest.from_json(path.read_text(encoding="utf-8")) for path in EXAMPLES]


def _rate(calls: Sequence[Callable[[], object]], seconds: float) -> float:
    """Calls per second over at least `seconds`, cycling through `calls`."""
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for call in calls:
            call()
        count += len(calls)
    return count / (time.perf_counter() - started)


def template_only(seconds: float) -> None:
    library = TemplateLibrary.default()
    drafter = Drafter(library=library, llm=None)
    work = _requests()
    # A plain environment, as a developer would render the sources (text letters: no HTML escaping).
    environment = Environment(  # noqa: S701
        loader=FileSystemLoader(library.root), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters.update(FILTERS)
    prepared = []
    for request in work:
        template = library.get(request.template)
        variables = template.variables(request, template.validate_facts(request.facts))
        source = environment.get_template(f"{template.id}/{template.manifest.source}")
        prepared.append(partial(source.render, variables))

    drafted = _rate([partial(drafter.draft, request) for request in work], seconds)
    direct = _rate(prepared, seconds)
    print("(a) sans modèle, un cœur")
    print(f"    courrier Drafter.draft      : {drafted:8.0f} courriers/s (validation, bac à sable, sceau)")
    print(f"    Jinja2 direct, mêmes sources : {direct:8.0f} rendus/s")
    print(f"    rapport                      : {drafted / direct:8.2f}")


@dataclass
class ModelTimes:
    """Totals over drafted letters: seconds in prompt evaluation, generation and courrier itself."""

    prompt: float = 0.0
    generation: float = 0.0
    overhead: float = 0.0
    output_tokens: int = 0
    outputs: list[str | None] = field(default_factory=list)
    """Every attempt's output hash, in order."""

    def add(self, draft: Draft, seconds: float) -> tuple[float, float, float, int]:
        attempts = [a for entry in draft.provenance.paragraphs for a in entry.attempts]
        prompt = sum(a.usage.prompt_seconds or 0.0 for a in attempts if a.usage)
        generation = sum(a.usage.generation_seconds or 0.0 for a in attempts if a.usage)
        overhead = seconds - prompt - generation
        self.prompt, self.generation, self.overhead = (
            self.prompt + prompt,
            self.generation + generation,
            self.overhead + overhead,
        )
        self.output_tokens += sum(a.usage.output_tokens or 0 for a in attempts if a.usage)
        self.outputs.extend(a.output_sha256 for a in attempts)
        return prompt, generation, overhead, len(attempts)


def draft_examples(drafter: Drafter, *, show: bool) -> ModelTimes:
    times = ModelTimes()
    if show:
        header = f"{'total':>7} {'prompt':>7} {'génér.':>7} {'courrier':>8} {'appels':>6}"
        print(f"    {'modèle de courrier':36} {header}")
    for request in _requests():
        started = time.perf_counter()
        draft = drafter.draft(request)
        total = time.perf_counter() - started
        prompt, generation, overhead, calls = times.add(draft, total)
        if show:
            print(
                f"    {request.template:36} {total:7.2f} {prompt:7.2f} {generation:7.2f} {overhead:8.2f} "
                f"{calls:6}"
            )
    return times


def with_model() -> ModelTimes:
    print("(b) avec le modèle embarqué, par courrier (secondes)")
    times = draft_examples(Drafter.local(), show=True)
    model_time = times.prompt + times.generation
    print(f"    part de courrier dans le temps du modèle : {100 * times.overhead / model_time:.1f} %")
    return times


@dataclass(frozen=True)
class BatchFigures:
    seconds_per_letter: float
    evaluated_per_letter: float
    unique_per_letter: float
    output_tokens_per_letter: float


def batch(letters: int) -> BatchFigures:
    """One template, many recipients: prompt tokens evaluated per letter against those unique to it."""
    drafter = Drafter.local(max_retries=0)
    request = next(r for r in _requests() if r.template == BATCH_TEMPLATE)
    evaluated = unique = generated = 0
    started = time.perf_counter()
    for number in range(letters):
        recipient = request.recipient.model_copy(update={"name": f"Usager numéro {number + 1}"})
        draft = drafter.draft(request.model_copy(update={"recipient": recipient}))
        for attempt in (a for entry in draft.provenance.paragraphs for a in entry.attempts):
            assert attempt.usage is not None
            evaluated += attempt.usage.evaluated_input_tokens or 0
            generated += attempt.usage.output_tokens or 0
        unique += _unique_tokens(draft)
    figures = BatchFigures(
        (time.perf_counter() - started) / letters, evaluated / letters, unique / letters, generated / letters
    )
    print(f"(c) lot de {letters} courriers {BATCH_TEMPLATE} (sans nouvelle tentative)")
    print(f"    jetons générés par courrier           : {figures.output_tokens_per_letter:8.0f}")
    print(f"    jetons de prompt évalués par courrier : {figures.evaluated_per_letter:8.0f}")
    print(f"    jetons propres à chaque courrier      : {figures.unique_per_letter:8.0f}")
    print(f"    rapport                               : {evaluated / unique:8.2f}")
    print(f"    durée                                 : {figures.seconds_per_letter:8.2f} s par courrier")
    return figures


def _unique_tokens(draft: Draft) -> int:
    """The prompt tokens that only this letter has: its data once, and each section's own part."""
    usages = [a.usage for entry in draft.provenance.paragraphs for a in entry.attempts if a.usage]
    system, data = usages[0].prefix_stages
    return data - system + sum((usage.input_tokens or 0) - data for usage in usages)


def peak_memory() -> None:
    from courrier import default_model_path

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = default_model_path().stat().st_size / 2**20
    print(f"(e) pic de mémoire (RSS) : {peak:.0f} Mio, fichier du modèle {model:.0f} Mio")
    print(f"    au-delà du fichier : {peak - model:.0f} Mio (cible : 200 au plus)")


def prompt_lookup(tokens: int, plain: ModelTimes) -> None:
    """The examples of (b) again, with prompt-lookup decoding: faster generation? same outputs?"""
    looked_up = draft_examples(Drafter.local(prompt_lookup=tokens), show=False)
    same = sum(a == b for a, b in zip(plain.outputs, looked_up.outputs, strict=False))
    print(f"(f) décodage par recherche dans le prompt ({tokens} jetons proposés par pas), exemples de (b)")
    for label, times in (("sans", plain), ("avec", looked_up)):
        rate = times.output_tokens / times.generation
        print(
            f"    {label} : génération {times.generation:7.2f} s, {rate:6.1f} jetons/s ; "
            f"prompts {times.prompt:7.2f} s"
        )
    print(f"    sorties identiques : {same}/{len(plain.outputs)}")


def baseline(letters: int, courrier: BatchFigures) -> None:
    from baseline import compare  # benchmarks/baseline.py

    for figures in compare(letters):
        speedup = figures.seconds_per_letter / courrier.seconds_per_letter
        print(f"    courrier (c) plus rapide que cette base : {speedup:8.2f} ×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="durée de chaque mesure sans modèle")
    parser.add_argument("--no-model", action="store_true", help="seulement la mesure sans modèle")
    parser.add_argument("--letters", type=int, default=20, help="courriers du lot (c) et (d)")
    parser.add_argument("--prompt-lookup", type=int, default=10, help="jetons proposés par pas en (f)")
    parser.add_argument("--no-baseline", action="store_true", help="sans les parties (f) et (d)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    template_only(args.seconds)
    if args.no_model:
        return
    plain = with_model()
    courrier = batch(args.letters)
    peak_memory()  # before (f) and (d), which load the model again
    if args.no_baseline:
        return
    prompt_lookup(args.prompt_lookup, plain)
    baseline(args.letters, courrier)


if __name__ == "__main__":
    main()
