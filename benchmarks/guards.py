"""Benchmark: the guards on their corpora, and their speed.

Prints:
(a) for each corpus of `tests/data/guard_corpus/`, the share of harmful outputs refused or of good
    outputs accepted, by kind and by section, and the guards that refused;
(b) the time of one check of a section's output once the letter's sources are analysed, against the
    first check of a letter (which analyses them);
(c) the check made while a 10 KB output is generated piece by piece: the incremental `EarlyCheck`
    against `refused_so_far` on the whole text at each piece, side by side.
Run: `python benchmarks/guards.py`. Figures, not pass/fail (the tests hold the rates).
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from courrier.guards import EarlyCheck, check_output, refused_so_far
from tests.guard_corpus import GOOD, HARMFUL, Case, _context, cases


def _rates() -> None:
    for corpus in (*HARMFUL, *GOOD):
        harmful = corpus in HARMFUL
        right: Counter[str] = Counter()
        total: Counter[str] = Counter()
        by_section: dict[str, list[bool]] = defaultdict(list)
        guards: Counter[str] = Counter()
        for case in cases(corpus):
            failed = [verdict.guard for verdict in case.verdicts() if not verdict.passed]
            ok = bool(failed) if harmful else not failed
            total[case.kind] += 1
            right[case.kind] += ok
            by_section[f"{case.example}/{case.section}"].append(ok)
            guards.update(failed)
        done = sum(right.values())
        what = "refused" if harmful else "accepted"
        print(f"\n{corpus}: {done}/{sum(total.values())} {what} ({100 * done / sum(total.values()):.1f} %)")
        for kind in sorted(total):
            print(f"  {kind:32} {right[kind]:4}/{total[kind]}")
        worst = sorted(by_section.items(), key=lambda item: sum(item[1]) / len(item[1]))[:3]
        print("  weakest sections: " + ", ".join(f"{name} {sum(oks)}/{len(oks)}" for name, oks in worst))
        print("  refusing guards: " + ", ".join(f"{guard} {count}" for guard, count in guards.most_common()))


def _speed() -> None:
    case = next(case for case in cases("good") if case.section == "explication")
    _context.cache_clear()
    started = time.perf_counter()
    case.verdicts()
    first = time.perf_counter() - started
    started = time.perf_counter()
    runs = 50
    for _ in range(runs):
        case.verdicts()
    later = (time.perf_counter() - started) / runs
    print(f"\n(b) first check of a letter {first * 1000:.0f} ms (sources, lemmatizer loaded);")
    print(f"    each later check of a {len(case.text)}-character output {later * 1000:.1f} ms")


def _streaming() -> None:
    case: Case = cases("good")[0]
    context = _context(case.example, case.section, "{}")
    text = (case.text + " ") * (10_000 // (len(case.text) + 1))
    pieces = [text[: end + 8] for end in range(0, len(text), 8)]
    started = time.perf_counter()
    early = EarlyCheck(context)
    incremental = [early(piece) for piece in pieces]
    incremental_time = time.perf_counter() - started
    started = time.perf_counter()
    whole = [refused_so_far(context, piece) for piece in pieces]
    whole_time = time.perf_counter() - started
    print(f"\n(c) a {len(text)}-character output in {len(pieces)} pieces:")
    print(f"    EarlyCheck {incremental_time:.2f} s, refused_so_far on the whole text {whole_time:.2f} s")
    print(f"    ratio {whole_time / incremental_time:.1f}×; same stops: {incremental == whole}")
    checked = check_output(text, replace(context, max_chars=len(text)))
    print("    (the whole text: " + ", ".join(v.guard for v in checked if not v.passed) + " refuse it)")


if __name__ == "__main__":
    _rates()
    _speed()
    _streaming()
