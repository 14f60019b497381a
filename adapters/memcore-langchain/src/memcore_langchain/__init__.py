"""memcore for LangChain and LangGraph: a retriever, a vector store and memory tools.

Each is bound to one user when it is made, and every call it makes is scoped to that
user; the user never comes from a model's output::

    import memcore
    from memcore_langchain import MemcoreRetriever, MemcoreVectorStore, memory_tools

    async with memcore.connect() as memory:
        tools = memory_tools(memory, "user-42")
        retriever = MemcoreRetriever(service=memory, user_id="user-42")
        notes = MemcoreVectorStore(memory, "user-42", task="notes")

See docs/integrations/langchain.md.
"""

from memcore_langchain._portal import connect_sync
from memcore_langchain._retriever import MemcoreRetriever
from memcore_langchain._tools import (
    RecordInterventionArguments,
    RecordReflectionArguments,
    SearchInterventionsArguments,
    SearchReflectionsArguments,
    UpdateOutcomeArguments,
    WhatWorkedArguments,
    memory_tools,
)
from memcore_langchain._vectorstore import MemcoreVectorStore

__all__ = [
    "MemcoreRetriever",
    "MemcoreVectorStore",
    "RecordInterventionArguments",
    "RecordReflectionArguments",
    "SearchInterventionsArguments",
    "SearchReflectionsArguments",
    "UpdateOutcomeArguments",
    "WhatWorkedArguments",
    "connect_sync",
    "memory_tools",
]
