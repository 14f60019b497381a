"""memcore embedder ``openai``: OpenAI, Azure OpenAI and OpenAI-compatible servers.

Registered as the ``memcore.embedders`` entry point ``openai``; select it with
``MEMCORE_EMBEDDER=openai`` and configure it with ``MEMCORE_OPENAI_*`` (see
:class:`OpenAISettings`). :mod:`memcore_openai.testing`, a real local server for tests, is
in a checkout's editable install only (the wheel leaves it out).
"""

from memcore_openai._embedder import OpenAIEmbedder
from memcore_openai._settings import OpenAISettings

__all__ = ["OpenAIEmbedder", "OpenAISettings"]
