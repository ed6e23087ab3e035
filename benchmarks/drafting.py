"""Benchmark: drafting throughput without a model, and per-letter latency with the embedded model.

Prints (a) template-only letters per second on one core, against rendering the same Jinja2 sources
directly with an ordinary environment; (b) for each shipped example drafted with the embedded model,
the time spent in prompt evaluation, in generation, and in courrier itself; (e) the peak RSS.
Run: `python benchmarks/drafting.py` (`--no-model` for part a only). Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from courrier import Draft, Drafter, LetterRequest, TemplateLibrary
from courrier._french import FILTERS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "requests").glob("*.json"))


def _requests() -> list[LetterRequest]:
    return [LetterRequest.model_validate_json(path.read_text(encoding="utf-8")) for path in EXAMPLES]


def _rate(calls: list[Callable[[], object]], seconds: float) -> float:
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


def with_model() -> None:
    drafter = Drafter.local()
    print("(b) avec le modèle embarqué, par courrier (secondes)")
    header = f"{'total':>7} {'prompt':>7} {'génér.':>7} {'courrier':>8} {'appels':>6}"
    print(f"    {'modèle de courrier':36} {header}")
    totals = [0.0, 0.0, 0.0]
    for request in _requests():
        started = time.perf_counter()
        draft = drafter.draft(request)
        total = time.perf_counter() - started
        attempts = [a for entry in draft.provenance.paragraphs for a in entry.attempts if a.usage]
        prompt = sum(a.usage.prompt_seconds or 0.0 for a in attempts if a.usage)
        generation = sum(a.usage.generation_seconds or 0.0 for a in attempts if a.usage)
        overhead = total - prompt - generation
        for i, value in enumerate((prompt, generation, overhead)):
            totals[i] += value
        print(
            f"    {request.template:36} {total:7.2f} {prompt:7.2f} {generation:7.2f} {overhead:8.2f} "
            f"{len(attempts):6}"
        )
    model_time = totals[0] + totals[1]
    print(f"    part de courrier dans le temps du modèle : {100 * totals[2] / model_time:.1f} %")


def batch(letters: int) -> None:
    """One template, many recipients: prompt tokens evaluated per letter against those unique to it."""
    drafter = Drafter.local(max_retries=0)
    request = next(r for r in _requests() if r.template == "reponse-reclamation")
    evaluated = unique = 0
    started = time.perf_counter()
    for number in range(letters):
        recipient = request.recipient.model_copy(update={"name": f"Usager numéro {number + 1}"})
        draft = drafter.draft(request.model_copy(update={"recipient": recipient}))
        for attempt in (a for entry in draft.provenance.paragraphs for a in entry.attempts):
            assert attempt.usage is not None
            evaluated += attempt.usage.evaluated_input_tokens or 0
        unique += _unique_tokens(draft)
    seconds = time.perf_counter() - started
    print(f"(c) lot de {letters} courriers {request.template} (sans nouvelle tentative)")
    print(f"    jetons de prompt évalués par courrier : {evaluated / letters:8.0f}")
    print(f"    jetons propres à chaque courrier      : {unique / letters:8.0f}")
    print(f"    rapport                               : {evaluated / unique:8.2f}")
    print(f"    durée                                 : {seconds / letters:8.2f} s par courrier")


def _unique_tokens(draft: Draft) -> int:
    """The prompt tokens that only this letter has: its data once, and each section's own part."""
    usages = [a.usage for entry in draft.provenance.paragraphs for a in entry.attempts if a.usage]
    system, data = usages[0].prefix_stages
    return data - system + sum((usage.input_tokens or 0) - data for usage in usages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="durée de chaque mesure sans modèle")
    parser.add_argument("--no-model", action="store_true", help="seulement la mesure sans modèle")
    parser.add_argument("--letters", type=int, default=20, help="courriers du lot (c)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    template_only(args.seconds)
    if not args.no_model:
        with_model()
        batch(args.letters)
    print(f"(e) pic de mémoire (RSS) : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} Mio")


if __name__ == "__main__":
    main()
