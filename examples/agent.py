"""How an AI agent uses courrier as tools: list, describe, draft and verify letters in a tool-calling loop.

    python examples/agent.py                    # drafting with the embedded model, loop scripted
    python examples/agent.py --no-llm           # drafting without model (vetted text only): fast
    python examples/agent.py --model qwen.gguf  # a local GGUF model drives the loop (and drafts)
    python examples/agent.py --out brouillons   # where the draft JSON files go (default: a temp folder)

The four tools wrap courrier's public API (`TemplateLibrary`, `Drafter`, `Draft`, `verify`). A courrier
error (an invalid request, an unknown template…) comes back to the model as the tool's result, in
French, so that it can correct its call: it never ends the loop.

With `--model`, `LocalChatModel.bind_tools` lets the GGUF model call the tools: a llama.cpp grammar makes
each of its replies one well-formed tool call or a final answer. Pick an instruct model of a few billion
parameters. The embedded model (SmolLM2-135M) can write a tool call but is far too small to drive the
loop sensibly: without `--model`, a scripted tool-calling model (langchain-core's `GenericFakeChatModel`)
plays the agent's part, while the `draft_letter` tool really drafts with the embedded model: the
provenance record is real.

`build_tools`, `ScriptedToolModel`, `scripted_model` and `run_agent` can be imported from this file.
"""

from __future__ import annotations

import argparse
import builtins
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from courrier import (
    CourrierError,
    Draft,
    Drafter,
    InvalidDraft,
    InvalidInput,
    LocalChatModel,
    ModelError,
    TemplateNotFound,
    UserError,
    VerificationError,
    verify,
)
from courrier.model import LocalEngine

EXAMPLE_REQUEST = Path(__file__).resolve().parent / "requests" / "demande-pieces-manquantes.json"
MAX_STEPS = 8
AGENT_N_CTX = 8192  # the conversation carries every tool result: a template's description, a letter…
AGENT_MAX_TOKENS = 2048  # a draft_letter call writes the whole letter request as its arguments

SMALL_MODEL_NOTICE = (
    "Modèle embarqué trop petit pour piloter la boucle d'outils : elle l'est par un modèle scripté "
    "(les appels d'outils sont écrits d'avance ; l'outil draft_letter rédige, lui, pour de vrai)."
)

SYSTEM_PROMPT = (
    "Tu assistes les agents d'un service public français. Pour rédiger un courrier administratif, "
    "utilise uniquement les outils : list_templates pour choisir un modèle, describe_template pour "
    "connaître les faits qu'il demande, draft_letter pour rédiger, verify_draft pour vérifier le "
    "brouillon. N'écris jamais le texte du courrier toi-même. Si un outil renvoie une erreur, corrige "
    "ta demande d'après le message et rappelle l'outil. Termine par un bref compte rendu en français."
)


# --- The tools ------------------------------------------------------------------------------------------


@contextmanager
def _tool_errors() -> Iterator[None]:
    """Turn courrier's errors into `ToolException`s: the tool returns their French text to the model."""
    try:
        yield
    except InvalidDraft as error:
        raise ToolException(
            f"Erreur : ce fichier n'est pas un brouillon courrier lisible. {error}."
        ) from error
    except InvalidInput as error:
        raise ToolException(
            f"Erreur : demande invalide. {error}. Corrigez ces champs puis rappelez l'outil "
            "(describe_template donne le schéma des faits)."
        ) from error
    except TemplateNotFound as error:
        raise ToolException(f"Erreur : {error}. Utilisez list_templates pour les connaître.") from error
    except CourrierError as error:
        raise ToolException(f"Erreur : {error}") from error


_ARGUMENT_PROBLEMS = {
    "missing": "argument obligatoire",
    "extra_forbidden": "argument inconnu",
    "string_type": "texte attendu",
    "dict_type": "objet JSON attendu",
}


def _invalid_arguments(error: ValidationError) -> str:
    """The French tool result for arguments that do not match the tool's signature."""
    problems = " ; ".join(
        f"« {'.'.join(str(part) for part in problem['loc']) or 'arguments'} » : "
        + _ARGUMENT_PROBLEMS.get(problem["type"], problem["msg"])
        for problem in error.errors()
    )
    return f"Erreur : arguments de l'outil invalides ({problems}). Corrigez l'appel puis rappelez l'outil."


def build_tools(drafter: Drafter, out_dir: Path) -> list[BaseTool]:
    """The four courrier tools, bound to a drafter (its library is used throughout) and a drafts folder.

    Each tool returns JSON-ready data; a courrier error becomes the tool's result (French text), and a
    `ToolMessage` with `status="error"` when the tool is invoked with a tool call.
    """
    library = drafter.library
    out_dir = out_dir.resolve()

    def list_templates() -> list[dict[str, Any]]:
        """List the vetted French administrative letter templates.

        Returns each template's id (to pass to describe_template and draft_letter), title, kind, and
        whether the letter is an administrative decision.
        """
        return [
            {"id": t.id, "title": t.title, "kind": t.kind, "decision": t.manifest.decision} for t in library
        ]

    def describe_template(template_id: str) -> dict[str, Any]:
        """Describe one letter template: what facts it needs and how its letter is built.

        Returns the JSON Schema of the template's facts (the "facts" of a draft_letter request), an
        example of facts, the sections in letter order with their mode (locked: vetted text kept as is;
        rephrase: vetted text a language model may rewrite under guards; fill: written by the model
        under guards, with a vetted fallback), the legal basis, the required mentions and whether a
        jurist has reviewed the template.

        Args:
            template_id: A template id, as list_templates returns it.
        """
        with _tool_errors():
            template = library.get(template_id)
        manifest = template.manifest
        return {
            "id": template.id,
            "version": template.version,
            "title": template.title,
            "kind": template.kind,
            "decision": manifest.decision,
            "review": {"status": manifest.review.status, "by": manifest.review.by},
            "legal_basis": list(manifest.legal_basis),
            "sections": [
                {"id": s.id, "mode": s.mode, **({"instructions": s.instructions} if s.instructions else {})}
                for s in manifest.sections
            ],
            "required_mentions": [m.label for m in manifest.required_mentions],
            "facts_schema": template.fields_schema(),
            "example_facts": to_jsonable_python(manifest.example),
        }

    def draft_letter(request: dict[str, Any]) -> dict[str, Any]:
        """Draft one French administrative letter from a vetted template, and save the draft.

        The letter is complete with the vetted text alone; a local language model may only rewrite or
        fill the sections the template allows, under guards, and the draft carries a sealed provenance
        record of who wrote each paragraph. Never rewrite the returned text yourself.

        Args:
            request: The letter request, as JSON: "template" (a template id), "facts" (as
                describe_template's facts_schema asks), "sender" (organisation, service, address: list
                of lines, city, signatory: {first_name, last_name, role}, optional delegation and
                case_officer: {name, phone, email}), "recipient" (civility: "Madame" or "Monsieur",
                name, address: list of lines), optional "date" (YYYY-MM-DD), "references" ({ours,
                yours}) and "attachments" (list of lines).
        """
        with _tool_errors():
            draft = drafter.draft(request)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{draft.id}.json"
        path.write_text(draft.to_json(), encoding="utf-8")
        return {
            "draft_id": draft.id,
            "version": draft.version,
            "template": {"id": draft.template.id, "version": draft.template.version},
            "record_sha256": draft.sha256,
            "model": _model_name(draft),
            "paragraphs": [
                {
                    "section": paragraph.section,
                    "mode": paragraph.mode,
                    "origin": paragraph.origin,
                    "fallback_reason": entry.fallback_reason,
                }
                for paragraph, entry in zip(draft.paragraphs, draft.provenance.paragraphs, strict=True)
            ],
            "missing_mentions": list(draft.missing_mentions()),
            "path": str(path),
            "text": draft.text,
        }

    def verify_draft(path: str) -> dict[str, Any]:
        """Verify a saved draft: its text, provenance record, seal and vetted texts.

        The template is rendered again from the request, so any change made outside courrier is found.

        Args:
            path: The "path" that draft_letter returned (a file in the drafts folder).
        """
        target = Path(path)
        target = (target if target.is_absolute() else out_dir / target).resolve()
        # An agent's tool reads only the drafts folder, whatever path the model makes up.
        if not target.is_relative_to(out_dir):
            raise ToolException(f"Erreur : {path} est hors du dossier des brouillons ({out_dir}).")
        try:
            data = target.read_bytes()
        except FileNotFoundError as error:
            raise ToolException(f"Erreur : brouillon introuvable : {path}.") from error
        except OSError as error:
            raise ToolException(f"Erreur : brouillon illisible ({path}) : {error.strerror}.") from error
        with _tool_errors():
            draft = Draft.from_json(data, source=target.name)
            try:
                result = verify(draft, library=library)
            except VerificationError as error:
                return {
                    "ok": False,
                    "problems": [str(problem) for problem in error.problems],
                    "message": f"brouillon NON conforme : {len(error.problems)} problème(s)",
                }
        return {
            "ok": True,
            "problems": [],
            "message": f"brouillon conforme (version {result.version}, {result.paragraphs} paragraphes, "
            "texte, registre, sceau et textes validés vérifiés)",
        }

    return [
        StructuredTool.from_function(
            function,
            parse_docstring=True,
            handle_tool_error=True,
            handle_validation_error=_invalid_arguments,
        )
        for function in (list_templates, describe_template, draft_letter, verify_draft)
    ]


def _model_name(draft: Draft) -> str | None:
    """The language model that drafted: its GGUF file for a local one, its LangChain type otherwise."""
    model = draft.provenance.model
    if model is None:
        return None
    return model.fingerprint.file_name if model.fingerprint is not None else model.kind


# --- A scripted tool-calling model ----------------------------------------------------------------------

# In a scripted message, "{draft_letter.path}" stands for the "path" of draft_letter's latest result:
# what a real model would read from the conversation.
_PLACEHOLDER = re.compile(r"\{(list_templates|describe_template|draft_letter|verify_draft)\.(\w+)\}")


class ScriptedToolModel(GenericFakeChatModel):
    """`GenericFakeChatModel` that accepts tools and reads earlier tool results into its scripted calls.

    It replies with its scripted messages in turn, whatever it is asked. `{tool.key}` in a message's
    text or in a tool call's string arguments is replaced by `key` of that tool's latest result.
    """

    def bind_tools(
        self,
        tools: Sequence[builtins.dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self  # The script already knows which tools it calls.

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        scripted = super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        message = scripted.generations[0].message
        results = _latest_results(messages)
        reply = AIMessage(
            content=_resolve(message.text, results),
            tool_calls=[
                tool_call(name=call["name"], args=_resolve(call["args"], results), id=call["id"])
                for call in getattr(message, "tool_calls", [])
            ],
            invalid_tool_calls=getattr(message, "invalid_tool_calls", []),
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _latest_results(messages: Sequence[BaseMessage]) -> builtins.dict[str, builtins.dict[str, Any]]:
    """The latest successful JSON-object result of each tool in the conversation."""
    results: dict[str, dict[str, Any]] = {}
    for message in messages:
        if isinstance(message, ToolMessage) and message.name and message.status == "success":
            try:
                value = json.loads(message.text)
            except ValueError:
                continue
            if isinstance(value, dict):
                results[message.name] = value
    return results


def _resolve(value: Any, results: builtins.dict[str, builtins.dict[str, Any]]) -> Any:
    """`value` with each known `{tool.key}` placeholder replaced; unknown ones are left as they are."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            tool, key = match.groups()
            return str(results[tool][key]) if key in results.get(tool, {}) else match.group(0)

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, dict):
        return {key: _resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, results) for item in value]
    return value


def scripted_model(request: dict[str, Any]) -> ScriptedToolModel:
    """What a capable model would do with this request: look, describe, draft, verify, report."""
    template_id = str(request.get("template", ""))
    steps = [
        AIMessage(content="", tool_calls=[tool_call(name="list_templates", args={}, id="appel-1")]),
        AIMessage(
            content="",
            tool_calls=[tool_call(name="describe_template", args={"template_id": template_id}, id="appel-2")],
        ),
        AIMessage(
            content="", tool_calls=[tool_call(name="draft_letter", args={"request": request}, id="appel-3")]
        ),
        AIMessage(
            content="",
            tool_calls=[tool_call(name="verify_draft", args={"path": "{draft_letter.path}"}, id="appel-4")],
        ),
        AIMessage(
            content="Courrier « {describe_template.title} » rédigé : brouillon {draft_letter.draft_id}, "
            "enregistré dans {draft_letter.path}. Vérification : {verify_draft.message}. "
            "Il reste à le faire relire et approuver par le signataire.",
        ),
    ]
    return ScriptedToolModel(messages=iter(steps))


# --- The tool-calling loop ------------------------------------------------------------------------------


def run_agent(
    model: Runnable[LanguageModelInput, BaseMessage],
    tools: Sequence[BaseTool],
    question: str,
    *,
    max_steps: int = MAX_STEPS,
    echo: Callable[[str], None] = print,
) -> list[BaseMessage]:
    """Call the model (tools already bound), run the tools it asks for, until it answers without tools.

    Returns the whole conversation: its last message is the model's answer, unless `max_steps` model
    calls were not enough (it is then a tool result). A tool call the model left unreadable (cut short)
    gets an error as its result, as a failing tool does.
    """
    by_name = {tool.name: tool for tool in tools}
    messages: list[BaseMessage] = [SystemMessage(SYSTEM_PROMPT), HumanMessage(question)]
    for step in range(1, max_steps + 1):
        reply = model.invoke(messages)
        messages.append(reply)
        calls = reply.tool_calls if isinstance(reply, AIMessage) else []
        unreadable = reply.invalid_tool_calls if isinstance(reply, AIMessage) else []
        if not calls and not unreadable:
            return messages
        for bad in unreadable:
            echo(f"Étape {step} — appel d'outil illisible : {bad['error']}")
            messages.append(
                ToolMessage(
                    f"Erreur : appel d'outil illisible ({bad['error']}). Rappelez l'outil avec des arguments "
                    "plus courts.",
                    tool_call_id=bad["id"] or "",
                    name=bad["name"],
                    status="error",
                )
            )
        for call in calls:
            echo(f"Étape {step} — outil {call['name']}({_arguments(call['args'])})")
            tool = by_name.get(call["name"])
            if tool is None:
                result = ToolMessage(
                    f"Erreur : outil inconnu {call['name']!r} (outils : {', '.join(by_name)}).",
                    tool_call_id=call["id"] or "",
                    name=call["name"],
                    status="error",
                )
            else:
                result = tool.invoke(call)
            messages.append(result)
            echo(f"    → {_summary(result)}")
    return messages


def _arguments(args: dict[str, Any]) -> str:
    """A tool call's arguments on one short line."""
    shown = []
    for name, value in args.items():
        text = json.dumps(value, ensure_ascii=False)
        shown.append(f"{name}={text if len(text) <= 60 else text[:57] + '…'}")
    return ", ".join(shown)


def _summary(message: ToolMessage) -> str:
    """A tool result in a few words, for the console."""
    if message.status == "error":
        return message.text
    try:
        value = json.loads(message.text)
    except ValueError:
        return message.text[:200]
    if message.name == "list_templates" and isinstance(value, list):
        return f"{len(value)} modèles : {', '.join(str(item.get('id')) for item in value)}"
    if message.name == "describe_template" and isinstance(value, dict):
        fields = value.get("facts_schema", {}).get("properties", {})
        sections = ", ".join(f"{s['id']} ({s['mode']})" for s in value.get("sections", []))
        return f"« {value.get('title')} » : {len(fields)} champs ; sections : {sections}"
    if message.name == "draft_letter" and isinstance(value, dict):
        paragraphs = value.get("paragraphs", [])
        written = sum(1 for paragraph in paragraphs if paragraph["origin"] == "model")
        kept = sum(1 for paragraph in paragraphs if paragraph["fallback_reason"])
        return (
            f"brouillon {value.get('draft_id')} enregistré dans {value.get('path')} ; "
            f"{len(paragraphs)} paragraphes, dont {written} écrit(s) par le modèle de langue et {kept} "
            "texte(s) validé(s) gardé(s) après refus des contrôles"
        )
    if message.name == "verify_draft" and isinstance(value, dict):
        return " ; ".join([str(value.get("message")), *map(str, value.get("problems", []))])
    return message.text[:200]


# --- The command ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Un agent qui rédige un courrier avec les outils courrier.")
    parser.add_argument(
        "--no-llm", action="store_true", help="rédiger sans modèle de langue (textes validés)"
    )
    parser.add_argument(
        "--model", type=Path, help="fichier GGUF d'un modèle local qui pilote la boucle (et rédige)"
    )
    parser.add_argument(
        "--out", type=Path, help="dossier des brouillons (par défaut : un dossier temporaire)"
    )
    args = parser.parse_args(argv)

    if args.model is not None and not args.model.is_file():
        print(f"courrier : fichier de modèle introuvable : {args.model}", file=sys.stderr)
        return 2
    out_dir: Path = args.out or Path(tempfile.mkdtemp(prefix="courrier-agent-"))
    print(f"Dossier des brouillons : {out_dir}")
    request = json.loads(EXAMPLE_REQUEST.read_text(encoding="utf-8"))
    question = (
        "Le dossier ci-dessous est incomplet. Préparez le courrier qui demande les pièces manquantes "
        "à l'usager, puis vérifiez le brouillon.\nDonnées du dossier (JSON) :\n"
        + json.dumps(request, ensure_ascii=False)
    )

    try:
        agent_model = LocalChatModel(model_path=str(args.model), n_ctx=AGENT_N_CTX) if args.model else None
        if args.no_llm:
            drafter = Drafter(llm=None)
        elif agent_model is not None:
            drafter = Drafter(llm=agent_model)  # the agent's model also drafts, under the same guards
        else:
            drafter = Drafter.local()
    except CourrierError as error:
        hint = " (option --no-llm : rédiger sans modèle de langue)" if isinstance(error, ModelError) else ""
        print(f"courrier : {error}{hint}", file=sys.stderr)
        return 2 if isinstance(error, UserError) else 1
    if isinstance(drafter.llm, LocalEngine):  # Drafter.local()'s engine, or a LocalChatModel
        print(f"Rédaction : modèle local {drafter.llm.fingerprint.file_name}")
    else:
        print("Rédaction : sans modèle de langue (textes validés seulement)")

    tools = build_tools(drafter, out_dir)
    if agent_model is None:
        print(SMALL_MODEL_NOTICE)
        bound = scripted_model(request).bind_tools(tools)
    else:
        print(f"Agent : modèle local {args.model.name}, appels d'outils contraints par une grammaire")
        bound = agent_model.bind_tools(tools, max_tokens=AGENT_MAX_TOKENS)

    try:
        conversation = run_agent(bound, tools, question)
    except CourrierError as error:  # courrier errors are tool results; this is a failing model
        print(f"courrier : {error}", file=sys.stderr)
        return 1
    answer = conversation[-1]
    if not isinstance(answer, AIMessage):
        print(f"courrier : arrêt après {MAX_STEPS} étapes sans réponse finale du modèle", file=sys.stderr)
        return 1
    print(f"Réponse finale : {answer.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
