"""Constants and types shared by the test modules (a unique name: conftest is not importable)."""

from __future__ import annotations

from collections.abc import Callable

from memcore_openai import OpenAIEmbedder

# A canary: if this string shows up in any log, error or repr, a secret leaked.
API_KEY = "sk-canary-7f3a9c1e-do-not-log"
DIMENSIONS = 64

MakeEmbedder = Callable[..., OpenAIEmbedder]
