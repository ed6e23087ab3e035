"""LangChain's own standard suites for chat model integrations, run against LocalChatModel.

Features that this backend or a 135M model cannot have are switched off through the suites' own
properties, each with its reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from courrier import LocalChatModel

pytestmark = pytest.mark.local_model


class _Settings:
    @property
    def chat_model_class(self) -> type[LocalChatModel]:
        return LocalChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"n_ctx": 2048}

    @property
    def has_tool_calling(self) -> bool:
        return False  # llama.cpp's completion API has no tool calling, and a 135M model cannot choose tools

    @property
    def has_structured_output(self) -> bool:
        return True  # json_schema through llama.cpp grammars

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        return {"method": "json_schema"}

    @property
    def supports_json_mode(self) -> bool:
        return True  # json_mode is served like json_schema, by a grammar built from the schema

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False  # text-only model

    @property
    def supports_image_urls(self) -> bool:
        return False  # text-only model, and no network

    @property
    def supports_pdf_inputs(self) -> bool:
        return False  # text-only model

    @property
    def supports_audio_inputs(self) -> bool:
        return False  # text-only model

    @property
    def supports_video_inputs(self) -> bool:
        return False  # text-only model

    @property
    def supports_image_tool_message(self) -> bool:
        return False  # no tool calling

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False  # no tool calling

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False  # no tool calling, text-only

    @property
    def supports_model_override(self) -> bool:
        return False  # the model is a file loaded at construction, not a name chosen per call


class TestLocalChatModelUnit(_Settings, ChatModelUnitTests):
    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"COURRIER_N_THREADS": "1", "COURRIER_SEED": "7"}, {}, {"n_threads": 1, "seed": 7}


class TestLocalChatModelIntegration(_Settings, ChatModelIntegrationTests):
    pass
