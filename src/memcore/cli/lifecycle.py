"""Commands on a memory's later life: update it, ask what worked."""

from __future__ import annotations

from typing import Annotated

import typer

from memcore.cli._app import (
    AgentOption,
    JsonOption,
    SessionOption,
    UserOption,
    app,
    print_json,
    print_table,
    run_with_service,
    shorten,
)
from memcore.cli.records import metadata_pairs, record_text
from memcore.domain import MemoryRecord, Outcome
from memcore.domain.codec import record_to_dict
from memcore.domain.worked import WhatWorked
from memcore.service import MemoryService


@app.command()
def update(  # noqa: PLR0917 - typer maps parameters to options
    record_id: Annotated[str, typer.Argument(help="The id of the record to change.")],
    user: UserOption,
    outcome: Annotated[Outcome | None, typer.Option(help="Its outcome, known now.")] = None,
    task: Annotated[str | None, typer.Option(help="Its task (interventions).")] = None,
    context: Annotated[str | None, typer.Option(help="Its situation (interventions).")] = None,
    text: Annotated[str | None, typer.Option(help="What was said, or the reflection.")] = None,
    meta: Annotated[
        list[str] | None, typer.Option(help="Replace the metadata: KEY=VALUE (string).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change fields of one record in place (embedded again only for text, task, context)."""

    async def use(memory: MemoryService) -> MemoryRecord:
        metadata = None if meta is None else metadata_pairs(meta)
        if outcome is not None and not (task or context or text or metadata):
            return await memory.update_outcome(user, record_id, outcome)
        return await memory.update(
            user,
            record_id,
            outcome=outcome,
            task=task,
            context=context,
            text=text,
            metadata=metadata,
        )

    updated = run_with_service(use)
    if as_json:
        print_json(record_to_dict(updated))
    else:
        typer.echo(f"updated {updated.kind.value} {updated.id}")


@app.command("what-worked")
def what_worked(  # noqa: PLR0917 - typer maps parameters to options
    situation: Annotated[str, typer.Argument(help="Describe the situation now.")],
    user: UserOption,
    k: Annotated[int, typer.Option("-k", help="How many hits.")] = 5,
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    agent: AgentOption = None,
    session: SessionOption = None,
    as_json: JsonOption = False,
) -> None:
    """What helped this user in situations like this: hits ranked by similarity, outcome
    weight and recency, and how each task turned out.
    """

    async def use(memory: MemoryService) -> WhatWorked:
        return await memory.what_worked(
            user, situation, task=task, k=k, agent_id=agent, session_id=session
        )

    worked = run_with_service(use)
    if as_json:
        print_json(
            {
                "hits": [
                    {
                        "score": hit.score,
                        "similarity": hit.similarity,
                        "outcome_weight": hit.outcome_weight,
                        "recency": hit.recency,
                        "record": record_to_dict(hit.record),
                    }
                    for hit in worked.hits
                ],
                "rates": [
                    {"task": rate.task, "total": rate.total, "by_outcome": dict(rate.by_outcome)}
                    for rate in worked.rates
                ],
                "status": worked.status.value,
            }
        )
        return
    print_table(
        f"{user}: what worked like {shorten(situation, 40)!r}",
        ("score", "similarity", "weight", "recency", "id", "task", "outcome", "text"),
        (
            (
                f"{hit.score:.3f}",
                f"{hit.similarity:.3f}",
                f"{hit.outcome_weight:.2f}",
                f"{hit.recency:.2f}",
                hit.record.id,
                hit.record.task,
                hit.record.outcome.value,
                shorten(record_text(hit.record)),
            )
            for hit in worked.hits
        ),
    )
    for rate in worked.rates:
        typer.echo(str(rate))
