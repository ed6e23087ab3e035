"""Benchmark: LocalChatModel against llama-cpp-python called directly, on the embedded model.

Prints prompt-evaluation and generation tokens/s for both paths on the same prompts with the same
parameters, the wrapper's overhead, and the peak RSS; then the decoding speed with the default thread
count and with every core, alone and beside a process that keeps one core busy (a co-tenant).
Run: `python benchmarks/local_model.py`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import time

from llama_cpp import Llama

from courrier import LocalChatModel
from courrier.model import default_model_path

PROMPTS = [
    "Reformule en langage clair : votre demande est en cours d'examen par nos services.",
    "Écris une phrase courtoise pour inviter un usager à contacter la mairie.",
    "Explique simplement ce qu'est un accusé de réception.",
    "Résume : la demande a été transmise au service compétent, qui vous répondra.",
    "Rédige une formule pour remercier un usager de son message.",
    "Reformule : les pièces manquantes doivent être envoyées avant la date indiquée.",
]


def _direct(llama: Llama, prompt: str, max_tokens: int) -> tuple[str, float, float]:
    """One streamed chat completion straight through llama-cpp-python: text, prompt s, generation s."""
    started = time.perf_counter()
    first = None
    pieces: list[str] = []
    for part in llama.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        temperature=0.0,
        top_p=1.0,
        top_k=40,
        repeat_penalty=1.0,
        max_tokens=max_tokens,
        seed=0,
    ):
        delta = part["choices"][0]["delta"].get("content")  # type: ignore[index, union-attr]
        if delta:
            first = first or time.perf_counter()
            pieces.append(str(delta))
    ended = time.perf_counter()
    return "".join(pieces), (first or ended) - started, ended - (first or ended)


def _spin() -> None:
    while True:
        pass


def threads_under_load(max_tokens: int) -> None:
    """Decoding tokens/s for the default thread count and for every core: alone, beside one busy
    process, and beside one busy process per core. llama.cpp's threads wait for each other at every
    step, so a thread without a core holds the others back."""
    cores = len(os.sched_getaffinity(0))
    default = LocalChatModel.model_fields["n_threads"].get_default(call_default_factory=True)
    print(f"threads (default {default}, {cores} cores): decoding tok/s alone / 1 busy process / {cores} busy")
    for threads in sorted({default, cores}):
        model = LocalChatModel(n_threads=threads, max_tokens=max_tokens, timeout=20)
        rates = []
        for busy in (0, 1, cores):
            spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
            for spinner in spinners:
                spinner.start()
            try:
                reply = model.invoke(PROMPTS[1])
            finally:
                for spinner in spinners:
                    spinner.terminate()
                    spinner.join()
            usage, seconds = reply.usage_metadata, reply.response_metadata["generation_seconds"]
            assert usage is not None
            rates.append(usage["output_tokens"] / seconds if seconds else 0.0)
        print(f"{threads:>3} thread(s): " + " / ".join(f"{rate:6.1f}" for rate in rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    settings = {"n_ctx": 2048, "n_batch": 512, "seed": 0, "max_tokens": args.max_tokens}
    if args.threads:
        settings["n_threads"] = args.threads
    model = LocalChatModel(**settings)
    llama = Llama(
        model_path=str(default_model_path()),
        n_ctx=model.n_ctx,
        n_threads=model.n_threads,
        n_threads_batch=model.n_threads,
        n_batch=model.n_batch,
        seed=model.seed,
        verbose=False,
    )
    rows: dict[str, list[tuple[int, int, float, float]]] = {"courrier": [], "direct": []}
    same = 0
    for _ in range(args.rounds):
        for prompt in PROMPTS:
            reply = model.invoke(prompt)
            usage, meta = reply.usage_metadata, reply.response_metadata
            assert usage is not None
            rows["courrier"].append(
                (
                    usage["input_tokens"],
                    usage["output_tokens"],
                    meta["prompt_seconds"],
                    meta["generation_seconds"],
                )
            )
            text, prompt_s, gen_s = _direct(llama, prompt, args.max_tokens)
            same += text == reply.content
            out = len(llama.tokenize(text.encode("utf-8"), add_bos=False))
            rows["direct"].append((usage["input_tokens"], out, prompt_s, gen_s))
    print(f"model: {model.fingerprint.file_name}  threads: {model.n_threads}  max_tokens: {args.max_tokens}")
    print(f"{'path':<10} {'prompt tok/s':>13} {'gen tok/s':>10} {'wall s/call':>12}")
    walls = {}
    for name, data in rows.items():
        prompt_rate = sum(r[0] for r in data) / sum(r[2] for r in data)
        gen_rate = sum(r[1] for r in data) / sum(r[3] for r in data)
        walls[name] = statistics.mean(r[2] + r[3] for r in data)
        print(f"{name:<10} {prompt_rate:>13.1f} {gen_rate:>10.1f} {walls[name]:>12.3f}")
    print(f"wrapper overhead on wall time per call: {100 * (walls['courrier'] / walls['direct'] - 1):+.1f} %")
    print(f"identical outputs: {same}/{len(rows['direct'])}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"model file: {model.fingerprint.size / 2**20:.0f} MiB")
    threads_under_load(args.max_tokens)


if __name__ == "__main__":
    main()
