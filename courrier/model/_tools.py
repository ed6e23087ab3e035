"""Structured output and tool calls for the local model: JSON Schemas made grammars, the tool-call
reply format, and conversations written as the chat template reads them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.utils.json_schema import dereference_refs

from ..errors import UserError
from ._engine import TEMPLATE_ROLES

GRAMMAR_STRING_MAX_CHARS = 200
"""Strings without a `maxLength` are bounded to this in the grammar, so that a greedy small model
stuck in a repetition still closes its JSON; validation uses the caller's schema unchanged."""


def bound_strings(schema: Any) -> Any:
    """A copy of a JSON Schema where every free string gets `maxLength`."""
    if isinstance(schema, list):
        return [bound_strings(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    bounded = {key: bound_strings(value) for key, value in schema.items()}
    free = not any(key in bounded for key in ("maxLength", "enum", "const", "pattern", "format"))
    if bounded.get("type") == "string" and free:
        bounded["maxLength"] = GRAMMAR_STRING_MAX_CHARS
    return bounded


NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
ANSWER_SCHEMA = {"type": "object", "properties": {"reponse": {"type": "string"}}, "required": ["reponse"]}
"""The final answer, left unbounded by `bound_strings`: it is the whole reply, bounded by `max_tokens`."""


def callable_tools(
    tools: Sequence[Mapping[str, Any]], tool_choice: str | None
) -> tuple[list[Mapping[str, Any]], bool]:
    """The functions (OpenAI tool format) the model may call, and whether it may answer instead."""
    functions = [tool["function"] for tool in tools]
    if tool_choice in (None, "auto", "none"):
        return ([] if tool_choice == "none" else functions), True
    chosen = (
        functions
        if tool_choice in ("any", "required")
        else [f for f in functions if f["name"] == tool_choice]
    )
    if not chosen:
        names = ", ".join(f["name"] for f in functions) or "aucun"
        raise UserError(f"tool_choice {tool_choice!r} : aucun outil lié à appeler (outils liés : {names})")
    return chosen, False


def without_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its `$ref`s inlined: a grammar resolves them against its root schema only."""
    return {key: value for key, value in dereference_refs(dict(schema)).items() if key != "$defs"}


def tools_prompt(functions: Sequence[Mapping[str, Any]], may_answer: bool) -> str:
    """What the system message says of the tools and of the reply format (French, as the prompts)."""
    described = "".join(
        f"\n- {function['name']} : {function.get('description', '')}\n  Paramètres (JSON Schema) : "
        + json.dumps(function.get("parameters", NO_PARAMETERS), ensure_ascii=False)
        for function in functions
    )
    formats = []
    if functions:
        formats.append('pour appeler un outil, {"outil": "<nom>", "arguments": {<paramètres>}}')
    if may_answer:
        formats.append('pour donner ta réponse finale, {"reponse": "<texte>"}')
    tools_part = f"Outils disponibles :{described}\n" if functions else ""
    return (
        f"{tools_part}Réponds uniquement par un objet JSON : {' ; '.join(formats)}. Le résultat d'un outil "
        "te parvient dans un message « Résultat de l'outil <nom> : … »."
    )


def add_to_system(messages: list[dict[str, str]], text: str) -> None:
    """Append `text` to the conversation's system message, or open the conversation with it."""
    if messages and messages[0]["role"] == "system":
        messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{text}"}
    else:
        messages.insert(0, {"role": "system", "content": text})


def tool_reply(text: str, *, call_id: str) -> dict[str, Any]:
    """The fields of the `AIMessage` for a tool-calling output: a tool call, or a final answer.

    The grammar makes a complete output valid; an output cut short is an invalid tool call.
    """
    try:
        output = json.loads(text)
    except ValueError:
        error = "sortie JSON incomplète (limite max_tokens, timeout ou stop atteint)"
        return {"content": "", "invalid_tool_calls": [invalid_tool_call(args=text, id=call_id, error=error)]}
    if "reponse" in output:
        return {"content": output["reponse"]}
    return {
        "content": "",
        "tool_calls": [tool_call(name=output["outil"], args=output["arguments"], id=call_id)],
    }


def to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """The conversation for the chat template; tool calls are written as the model writes them."""
    converted = []
    tool_names: dict[str, str] = {}  # tool call id -> tool name, for results that do not name their tool
    for message in messages:
        if isinstance(message, ToolMessage):
            name = message.name or tool_names.get(message.tool_call_id, message.tool_call_id)
            converted.append({"role": "user", "content": f"Résultat de l'outil {name} : {_text_of(message)}"})
            continue
        if isinstance(message, ChatMessage):
            role = message.role
        elif isinstance(message, HumanMessage | AIMessage | SystemMessage):
            role = TEMPLATE_ROLES[message.type]
        else:
            raise UserError(f"message de type {message.type!r} non pris en charge par le modèle local")
        parts = [_text_of(message)]
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                tool_names[call["id"] or ""] = call["name"]
                parts.append(
                    json.dumps({"outil": call["name"], "arguments": call["args"]}, ensure_ascii=False)
                )
        converted.append({"role": role, "content": "\n".join(part for part in parts if part)})
    return converted


def _text_of(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = []
    for block in message.content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block["text"]))
        else:
            raise UserError(f"contenu de type {block.get('type')!r} non pris en charge par le modèle local")
    return "".join(parts)
