"""A LangGraph agent that remembers what worked for its user (``agent-memcore-langchain``).

The agent is langchain's ``create_agent`` (LangGraph's prebuilt tool-calling agent) with
memcore's memory tools, bound to one user when the agent is built: nothing the model
says can reach another user's memories. A scripted chat model stands in for the LLM
(no network, no key), so every run is the same; put a real one in its place
(``init_chat_model("...")``) and the tools work unchanged.

Three conversations with ``user-42``, the first two in one LangGraph thread:

1. Panicking before an interview: the agent asks what worked (nothing yet), suggests
   box breathing and records that intervention, its outcome not known yet.
2. Later, the user says it helped: the agent reads the intervention's id from the
   thread and updates its outcome.
3. Days later, in a new thread, nervous before a presentation: the agent asks what
   worked and suggests it again, with how often it worked::

    pip install agent-memcore-langchain langchain
    python examples/langgraph_agent.py
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from typing_extensions import override

import memcore
from memcore_langchain import memory_tools

USER = "user-42"
_STORED = re.compile(r"Stored intervention (\w+)\.")

Step = Callable[[Sequence[BaseMessage]], AIMessage]
"""One model turn: reads the conversation so far, answers or calls a tool."""


class ScriptedChatModel(BaseChatModel):
    """A stand-in for a tool-calling LLM: each call answers with the next step of
    ``script``, which may read what the tools returned so far.
    """

    script: Iterator[Step]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @override
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=next(self.script)(messages))])

    @override
    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self


def call(tool: str, **arguments: Any) -> Step:
    """A step that calls ``tool``; ``arguments`` may be functions of the conversation."""

    def step(messages: Sequence[BaseMessage]) -> AIMessage:
        args = {k: v(messages) if callable(v) else v for k, v in arguments.items()}
        tool_call = {"name": tool, "args": args, "id": f"call-{len(messages)}"}
        return AIMessage("", tool_calls=[tool_call])

    return step


def say(text: str | Callable[[Sequence[BaseMessage]], str]) -> Step:
    """A step that answers the user."""
    return lambda messages: AIMessage(text(messages) if callable(text) else text)


def user_said(messages: Sequence[BaseMessage]) -> str:
    """The user's last message."""
    return next(m.text for m in reversed(messages) if isinstance(m, HumanMessage))


def tool_said(messages: Sequence[BaseMessage]) -> str:
    """What the last tool answered, as the model reads it."""
    return next(m.text for m in reversed(messages) if isinstance(m, ToolMessage))


def recorded_id(messages: Sequence[BaseMessage]) -> str:
    """The id in record_intervention's answer ("Stored intervention <id>.")."""
    said = (m.text for m in reversed(messages) if isinstance(m, ToolMessage))
    return next(found[1] for found in map(_STORED.search, said) if found)


def suggest_what_worked(messages: Sequence[BaseMessage]) -> str:
    """Answer from what_worked: its best hit, and how often it worked."""
    said = tool_said(messages)
    best, _ = json.JSONDecoder().raw_decode(said, said.index("["))
    rates = said.rsplit("Outcomes per task: ", 1)[1].rstrip(".")
    return f"This worked for you before: {best[0]['text']} ({rates}). Shall we do it again?"


BREATHING = "Two minutes of box breathing: in for four, hold for four, out for four."
CONVERSATIONS: list[tuple[str, str, list[Step]]] = [
    (
        "monday",
        "My job interview starts in ten minutes and I'm panicking.",
        [
            call("what_worked", situation=user_said),
            call(
                "record_intervention",
                intervention_text=BREATHING,
                task="calm_down",
                context=user_said,
            ),
            say(f"Let's try this together. {BREATHING}"),
        ],
    ),
    (
        "monday",
        "The breathing really helped, the interview went well!",
        [
            call("update_outcome", record_id=recorded_id, outcome="task_completed"),
            say("Wonderful! I'll remember that breathing works for you."),
        ],
    ),
    (
        "thursday",
        "I have to present to the whole team tomorrow and I'm so nervous.",
        [
            call("what_worked", situation=user_said, task="calm_down"),
            say(suggest_what_worked),
        ],
    ),
]


async def converse(memory: memcore.MemoryService, user_id: str = USER) -> list[BaseMessage]:
    """Run the three conversations of ``user_id``; returns every message, in order."""
    script = iter([step for _, _, steps in CONVERSATIONS for step in steps])
    agent = create_agent(
        ScriptedChatModel(script=script),
        memory_tools(memory, user_id),  # bound to this user: no tool takes a user id
        checkpointer=InMemorySaver(),  # a thread remembers its conversation
    )
    transcript: list[BaseMessage] = []
    for thread, said, _ in CONVERSATIONS:
        config: RunnableConfig = {"configurable": {"thread_id": thread}}
        before = len((await agent.aget_state(config)).values.get("messages", []))
        state = await agent.ainvoke({"messages": [HumanMessage(said)]}, config)
        transcript += state["messages"][before:]
        print(f"[{thread}] user: {said}\n[{thread}] agent: {transcript[-1].text}")  # noqa: T201 - an example prints
    return transcript


async def main() -> None:
    """The conversations on a service from ``MEMCORE_*`` settings (in memory by default)."""
    async with memcore.connect() as memory:
        await converse(memory)


if __name__ == "__main__":
    asyncio.run(main())
