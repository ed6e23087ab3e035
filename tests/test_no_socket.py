"""No socket is opened, import included: drafting with no model and everything done with a draft, the
local engine's path (which loads no LangChain: langsmith and urllib3, which it imports, bind a socket
on ::1 at import), and a letter drafted with the embedded model.

Each scenario runs in a fresh interpreter whose audit hook (PEP 578), installed before `import
courrier`, records every `socket.*` event.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from courrier import Draft, Drafter, LetterRequest, LocalChatModel
from courrier.model import LOAD_SETTINGS
from courrier.port import GENERATION_PARAMETERS
from courrier.record import AttemptRecord

from .conftest import ROOT

_REQUEST = ROOT / "examples" / "requests" / "accuse-reception-rejet.json"

_WATCHED = ("langchain_core", "langsmith", "requests", "urllib3")
"""LangChain, and what it imports that opens a socket at import (urllib3, through langsmith)."""

_HOOK = (
    "import sys\n"
    "sockets = []\n"
    "sys.addaudithook(lambda event, args: sockets.append([event, repr(args)]) "
    "if event.startswith('socket.') else None)\n"
)
"""Installed first: every later import and call is watched."""

_REPORT = (
    "import json\n"
    "print(json.dumps({'sockets': sockets, 'result': result,"
    f" 'loaded': [name for name in {_WATCHED!r} if name in sys.modules]}}))\n"
)
"""Printed last: the socket events, what the code put in `result`, and the modules of `_WATCHED` loaded."""


def _watched(code: str, timeout: float = 120) -> dict[str, Any]:
    """Run `code` in a fresh interpreter under the audit hook; its `_REPORT`."""
    done = subprocess.run(
        [sys.executable, "-c", f"{_HOOK}result = None\n{code}{_REPORT}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_drafting_without_a_model_opens_no_socket(tmp_path: Path) -> None:
    report = _watched(
        "import courrier\n"
        f"request = courrier.LetterRequest.from_json(open({str(_REQUEST)!r}, encoding='utf-8').read())\n"
        "draft = courrier.Drafter().draft(request)\n"
        "courrier.verify(draft, library=courrier.TemplateLibrary.default())\n"
        "for name in courrier.FORMATS:\n"
        "    courrier.export_document(draft, name)\n"
        f"with courrier.Journal({str(tmp_path / 'journal.sqlite3')!r}) as journal:\n"
        "    journal.record(draft)\n"
    )
    assert report["sockets"] == []
    assert report["loaded"] == []


def test_the_local_engine_path_opens_no_socket_and_loads_no_langchain() -> None:
    """Everything `Drafter.local()`, `courrier draft` and `courrier replay` import before a model
    file is read; llama.cpp's own modules too, where it is installed."""
    llama_cpp = (
        "import llama_cpp.llama_chat_format, llama_cpp.llama_grammar, llama_cpp.llama_speculative\n"
        if importlib.util.find_spec("llama_cpp")
        else ""
    )
    report = _watched(
        "import courrier\n"
        "from courrier._cli import main\n"
        "from courrier._replay import model_for_replay, replay\n"
        "from courrier.model import LocalEngine, LocalPort, port_for\n"
        "import courrier.model._engine, courrier.model._loading, courrier.model._port\n" + llama_cpp
    )
    assert report["sockets"] == []
    assert report["loaded"] == []


@pytest.mark.local_model
def test_drafting_with_the_local_model_opens_no_socket() -> None:
    """`Drafter.local()` drafts in a fresh interpreter with no socket and no LangChain, and records the
    model as a `LocalChatModel` given to the drafter does: kind, fingerprint, load settings, and for
    every attempt the same parameters and the same output."""
    report = _watched(
        "import courrier\n"
        f"request = courrier.LetterRequest.from_json(open({str(_REQUEST)!r}, encoding='utf-8').read())\n"
        "result = courrier.Drafter.local().draft(request).to_json()\n",
        timeout=600,
    )
    assert report["sockets"] == []
    assert report["loaded"] == []
    record = Draft.from_json(report["result"]).provenance
    request = LetterRequest.model_validate_json(_REQUEST.read_text(encoding="utf-8"))
    before = Drafter(llm=LocalChatModel()).draft(request).provenance
    assert record.model is not None
    assert record.model.kind == "courrier-llamacpp"
    assert record.model.fingerprint is not None
    assert tuple(record.model.settings) == LOAD_SETTINGS
    assert record.model == before.model
    attempts = [a for entry in record.paragraphs for a in entry.attempts]
    assert attempts
    assert all(tuple(a.parameters) == (*GENERATION_PARAMETERS, "stop") for a in attempts)
    assert [_generated(a) for e in record.paragraphs for a in e.attempts] == [
        _generated(a) for e in before.paragraphs for a in e.attempts
    ]


def _generated(attempt: AttemptRecord) -> tuple[object, ...]:
    """What an attempt records of its generation, timings left out."""
    usage = attempt.usage
    return (
        attempt.prompt,
        attempt.parameters,
        attempt.reproducible,
        attempt.output_sha256,
        attempt.accepted,
        usage and (usage.input_tokens, usage.output_tokens, usage.finish_reason, usage.prefix_stages),
    )
