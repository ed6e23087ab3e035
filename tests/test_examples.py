"""The example scripts: the agent's tool-calling loop and the GRC integration, run as a user runs them.

The embedded model is tiny: the test that drafts with it checks structure, never wording.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.tools import BaseTool

from courrier import Draft, Drafter, Journal, TemplateLibrary, verify
from courrier.model import default_model_path

from .conftest import ROOT

EXAMPLES = ROOT / "examples"
REQUEST = json.loads((EXAMPLES / "requests" / "demande-pieces-manquantes.json").read_text(encoding="utf-8"))


def run_example(script: str, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run an example script as a user does, with the repository on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def load_example(name: str) -> ModuleType:
    """Import an example script as a module, to call its functions."""
    spec = importlib.util.spec_from_file_location(f"courrier_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def agent() -> ModuleType:
    return load_example("agent")


@pytest.fixture(scope="module")
def grc() -> ModuleType:
    return load_example("grc_integration")


@pytest.fixture
def tools(agent: ModuleType, tmp_path: Path) -> dict[str, BaseTool]:
    built: list[BaseTool] = agent.build_tools(Drafter(llm=None), tmp_path / "brouillons")
    return {tool.name: tool for tool in built}


def invalid_request() -> dict[str, Any]:
    facts = {name: value for name, value in REQUEST["facts"].items() if name != "silence_vaut"}
    return {**REQUEST, "facts": {**facts, "date_reception": "hier"}}


def assert_in_order(text: str, *parts: str) -> None:
    positions = [text.find(part) for part in parts]
    assert -1 not in positions, (parts, text)
    assert positions == sorted(positions), text


def only_draft(folder: Path) -> Draft:
    (path,) = folder.glob("*.json")
    return Draft.from_json(path.read_bytes())


# --- agent.py -------------------------------------------------------------------------------------------


def test_agent_without_model_calls_the_tools_in_order(tmp_path: Path, library: TemplateLibrary) -> None:
    out = tmp_path / "brouillons"
    result = run_example("agent.py", "--no-llm", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "modèle scripté" in result.stdout
    assert_in_order(
        result.stdout,
        "outil list_templates(",
        'outil describe_template(template_id="demande-pieces-manquantes")',
        "outil draft_letter(",
        "outil verify_draft(",
        "brouillon conforme",
        "Réponse finale :",
    )
    draft = only_draft(out)
    assert draft.provenance.model is None
    verify(draft, library=library)


@pytest.mark.local_model
def test_agent_drafts_with_the_embedded_model(tmp_path: Path, library: TemplateLibrary) -> None:
    out = tmp_path / "brouillons"
    result = run_example("agent.py", "--out", str(out), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert_in_order(result.stdout, "outil draft_letter(", "outil verify_draft(", "brouillon conforme")
    draft = only_draft(out)
    assert draft.provenance.model is not None
    assert draft.provenance.model.fingerprint is not None
    assert any(entry.attempts for entry in draft.provenance.paragraphs)  # the model was asked
    verify(draft, library=library)


@pytest.mark.local_model
def test_agent_loop_driven_by_a_local_model(tmp_path: Path) -> None:
    model = str(default_model_path())
    result = run_example(
        "agent.py", "--no-llm", "--model", model, "--out", str(tmp_path), cwd=tmp_path, timeout=600
    )
    # 1: no final answer within the step limit (or the context filled up): a 135M model may loop.
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    assert "— outil " in result.stdout or "Réponse finale : " in result.stdout


def test_tool_errors_come_back_as_french_text(
    tools: dict[str, BaseTool], tmp_path: Path, socket_disabled: None
) -> None:
    result = tools["draft_letter"].invoke({"request": invalid_request()})
    assert isinstance(result, str)
    assert result.startswith("Erreur : demande invalide")
    assert "facts.date_reception" in result
    assert "facts.silence_vaut" in result

    message = tools["draft_letter"].invoke(
        tool_call(name="draft_letter", args={"request": {**REQUEST, "template": "inconnu"}}, id="a")
    )
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert "modèle inconnu" in message.text

    assert "argument obligatoire" in tools["draft_letter"].invoke({})
    assert "hors du dossier des brouillons" in tools["verify_draft"].invoke(
        {"path": str(tmp_path / "x.json")}
    )
    assert "introuvable" in tools["verify_draft"].invoke({"path": "absent.json"})
    (tmp_path / "brouillons").mkdir()
    (tmp_path / "brouillons" / "autre.json").write_text('{"id": 1}', encoding="utf-8")
    assert "pas un brouillon courrier" in tools["verify_draft"].invoke({"path": "autre.json"})
    assert "modèle inconnu" in tools["describe_template"].invoke({"template_id": "inconnu"})


def test_tools_describe_draft_and_verify(tools: dict[str, BaseTool], socket_disabled: None) -> None:
    listed = {entry["id"]: entry for entry in tools["list_templates"].invoke({})}
    assert listed["demande-pieces-manquantes"]["decision"] is False
    assert listed["decision-defavorable"]["decision"] is True
    described = tools["describe_template"].invoke({"template_id": "demande-pieces-manquantes"})
    assert "pieces_manquantes" in described["facts_schema"]["properties"]
    json.dumps(described)  # JSON-ready, example facts included

    drafted = tools["draft_letter"].invoke({"request": REQUEST})
    assert drafted["text"]
    assert {p["origin"] for p in drafted["paragraphs"]} == {"template"}
    verdict = tools["verify_draft"].invoke({"path": drafted["path"]})
    assert verdict["ok"] is True
    assert verdict["problems"] == []

    path = Path(drafted["path"])
    data = json.loads(path.read_text(encoding="utf-8"))
    data["paragraphs"][-1]["text"] += " Signé d'avance."
    path.write_text(json.dumps(data), encoding="utf-8")
    verdict = tools["verify_draft"].invoke({"path": path.name})
    assert verdict["ok"] is False
    assert verdict["problems"]


def test_the_loop_goes_on_after_a_tool_error(
    agent: ModuleType, tools: dict[str, BaseTool], socket_disabled: None
) -> None:
    model = agent.ScriptedToolModel(
        messages=iter(
            [
                AIMessage(
                    "",
                    tool_calls=[tool_call(name="draft_letter", args={"request": invalid_request()}, id="1")],
                ),
                AIMessage("", tool_calls=[tool_call(name="draft_letter", args={"request": REQUEST}, id="2")]),
                AIMessage(
                    "",
                    tool_calls=[tool_call(name="verify_draft", args={"path": "{draft_letter.path}"}, id="3")],
                ),
                AIMessage("Vérification : {verify_draft.message}"),
            ]
        )
    )
    echoed: list[str] = []
    conversation = agent.run_agent(
        model.bind_tools(list(tools.values())), list(tools.values()), "?", echo=echoed.append
    )
    results = [message for message in conversation if isinstance(message, ToolMessage)]
    assert [r.status for r in results] == ["error", "success", "success"]
    assert "facts.date_reception" in results[0].text
    assert json.loads(results[2].text)["ok"] is True
    assert conversation[-1].text.startswith("Vérification : brouillon conforme")
    assert any("facts.date_reception" in line for line in echoed)


def test_an_unreadable_tool_call_is_answered_with_an_error(
    agent: ModuleType, tools: dict[str, BaseTool], socket_disabled: None
) -> None:
    cut = invalid_tool_call(args='{"outil": "draft_letter", "argu', id="call_1", error="sortie coupée")
    model = agent.ScriptedToolModel(
        messages=iter([AIMessage("", invalid_tool_calls=[cut]), AIMessage("Fini.")])
    )
    echoed: list[str] = []
    conversation = agent.run_agent(model, list(tools.values()), "?", echo=echoed.append)
    result = conversation[-2]
    assert isinstance(result, ToolMessage)
    assert (result.status, result.tool_call_id) == ("error", "call_1")
    assert "appel d'outil illisible (sortie coupée)" in result.text
    assert conversation[-1].text == "Fini."
    assert any("illisible" in line for line in echoed)


def test_the_loop_is_bounded(agent: ModuleType, tools: dict[str, BaseTool], socket_disabled: None) -> None:
    calls = [
        AIMessage("", tool_calls=[tool_call(name="list_templates", args={}, id=str(n))]) for n in range(20)
    ]
    model = agent.ScriptedToolModel(messages=iter(calls))
    conversation = agent.run_agent(model, list(tools.values()), "?", max_steps=3, echo=lambda _: None)
    assert sum(isinstance(message, AIMessage) for message in conversation) == 3
    assert isinstance(conversation[-1], ToolMessage)


# --- grc_integration.py -------------------------------------------------------------------------------


def test_grc_integration_without_model(tmp_path: Path, library: TemplateLibrary) -> None:
    out = tmp_path / "sortie"
    result = run_example("grc_integration.py", "--no-llm", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_in_order(
        result.stdout,
        "Paragraphes à relire",
        "Version 2 : section « envoi » modifiée",
        "Version 3 : approuvée",
        "Fichiers écrits",
        ": conforme (version 3",
        "v1 drafted",
        "v2 edited",
        "v3 approved",
    )
    stored = out / "FSL-2026-03391.json"
    assert (out / "FSL-2026-03391.txt").read_text(encoding="utf-8").startswith("Département de l'Orne")
    draft = Draft.from_json(stored.read_bytes())
    assert draft.approved
    assert draft.version == 3
    assert next(p for p in draft.paragraphs if p.section == "envoi").origin == "human"
    verify(draft, library=library)
    with Journal(out / "journal.sqlite3") as journal:
        history = journal.history(draft.id)
        assert [(e.version, e.change) for e in history] == [(1, "drafted"), (2, "edited"), (3, "approved")]
        assert [e.actor for e in history] == [None, "Karim Belkacem", "Nathalie Guérin"]
        assert journal.verify(draft.id) == 3


def test_grc_request_carries_the_case_record(grc: ModuleType) -> None:
    request = grc.letter_request(grc.DOSSIER, grc.PROCEDURE, grc.SERVICE)
    assert request.recipient.civility == "Madame"
    assert request.recipient.name == "Aurélie Lefèvre"
    assert request.recipient.address[-1] == "61100 Flers"
    assert request.facts["pieces_manquantes"] == REQUEST["facts"]["pieces_manquantes"]
    assert request.facts["pieces_complementaires"] == REQUEST["facts"]["pieces_complementaires"]
    assert request.facts["date_limite"] == "2026-12-18"


def test_grc_export_writes_the_provenance_the_text_and_an_odt(
    grc: ModuleType, tmp_path: Path, socket_disabled: None
) -> None:
    draft = Drafter(llm=None).draft(grc.letter_request(grc.DOSSIER, grc.PROCEDURE, grc.SERVICE))
    written = grc.export(draft, tmp_path, "dossier")
    assert [p.suffix for p in written] == [".json", ".txt", ".odt"]
    assert Draft.from_json(written[0].read_bytes()) == draft
    assert written[1].read_text(encoding="utf-8") == draft.text + "\n"
    assert written[2].read_bytes().startswith(b"PK")
