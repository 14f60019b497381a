"""Commands on one user's memories: record, search, inspect, stats."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from memcore import debug
from memcore.cli._app import (
    AgentOption,
    JsonOption,
    SessionOption,
    UserOption,
    app,
    every_user,
    print_json,
    print_table,
    run_with_service,
    shorten,
)
from memcore.domain import (
    Intervention,
    MemoryRecord,
    Outcome,
    Receipt,
    RecordKind,
    SearchHit,
)
from memcore.domain.codec import record_to_dict
from memcore.errors import ValidationError
from memcore.service import MemoryService

EXIT_DEFERRED = 75
"""``memcore record``'s exit code for a deferred write (sysexits' ``EX_TEMPFAIL``)."""


def metadata_pairs(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` options as metadata (string values)."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValidationError("metadata", f"{pair!r} is not KEY=VALUE")
        parsed[key] = value
    return parsed


def record_text(record: MemoryRecord) -> str:
    """An intervention's ``intervention_text`` or a reflection's ``text``."""
    return record.intervention_text if isinstance(record, Intervention) else record.text


@app.command()
def record(  # noqa: PLR0917 - typer maps parameters to options
    text: Annotated[str, typer.Argument(help="What the agent said or did (or the reflection).")],
    user: UserOption,
    task: Annotated[str | None, typer.Option(help="The task (interventions).")] = None,
    context: Annotated[str, typer.Option(help="The situation (interventions).")] = "",
    outcome: Annotated[Outcome, typer.Option(help="What happened.")] = Outcome.UNKNOWN,
    kind: Annotated[RecordKind, typer.Option(help="What to record.")] = RecordKind.INTERVENTION,
    source: Annotated[list[str] | None, typer.Option(help="Source ids (reflections).")] = None,
    meta: Annotated[list[str] | None, typer.Option(help="Metadata KEY=VALUE (string).")] = None,
    agent: AgentOption = None,
    session: SessionOption = None,
    ttl: Annotated[
        float | None, typer.Option(help="Seconds until it expires (default: the retention).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record an intervention (``--task``) or a reflection (``--kind reflection``).

    Exits 0 once stored, or 75 (``EX_TEMPFAIL``) when the store was unavailable and the
    write was deferred to the durable outbox: it is replayed by the next command that
    reaches the store.
    """

    async def use(memory: MemoryService) -> Receipt[MemoryRecord]:
        metadata = metadata_pairs(meta or [])
        if kind is RecordKind.REFLECTION:
            return await memory.record_reflection(
                user,
                text,
                source_ids=source or [],
                metadata=metadata,
                agent_id=agent,
                session_id=session,
                ttl=ttl,
            )
        if task is None:
            raise ValidationError("task", "is required for an intervention (--task)")
        return await memory.record_intervention(
            user,
            text,
            task=task,
            context=context,
            outcome=outcome,
            metadata=metadata,
            agent_id=agent,
            session_id=session,
            ttl=ttl,
        )

    receipt = run_with_service(use)
    saved = receipt.record
    if as_json:
        print_json({**record_to_dict(saved), "status": receipt.status.value})
    elif receipt.deferred:
        typer.echo(f"deferred (not yet stored) {saved.kind.value} {saved.id}")
    else:
        typer.echo(f"recorded {saved.kind.value} {saved.id}")
    if receipt.deferred:
        raise typer.Exit(EXIT_DEFERRED)


@app.command()
def search(  # noqa: PLR0917 - typer maps parameters to options
    query: Annotated[str, typer.Argument(help="Describe the situation.")],
    user: UserOption,
    k: Annotated[int, typer.Option("-k", help="How many hits.")] = 5,
    kind: Annotated[RecordKind, typer.Option(help="What to search.")] = RecordKind.INTERVENTION,
    outcome: Annotated[list[Outcome] | None, typer.Option(help="Only these outcomes.")] = None,
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    agent: AgentOption = None,
    session: SessionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search a user's interventions (or reflections), best first."""
    filters: dict[str, Any] = {
        "outcomes": outcome or [],
        "task": task,
        "agent_id": agent,
        "session_id": session,
    }

    async def use(memory: MemoryService) -> list[SearchHit[Any]]:
        if kind is RecordKind.REFLECTION:
            return list(await memory.search_reflections(user, query, k, filters))
        return list(await memory.search_interventions(user, query, k, filters))

    hits = run_with_service(use)
    if as_json:
        print_json([{"score": hit.score, "record": record_to_dict(hit.record)} for hit in hits])
        return
    print_table(
        f"{user}: {kind.value}s like {shorten(query, 40)!r}",
        ("score", "id", "task", "outcome", "text"),
        (
            (
                f"{hit.score:.3f}",
                hit.record.id,
                getattr(hit.record, "task", ""),
                getattr(getattr(hit.record, "outcome", None), "value", ""),
                shorten(record_text(hit.record)),
            )
            for hit in hits
        ),
    )


@app.command()
def inspect(
    user: Annotated[str | None, typer.Option("--user", "-u", help="The user id.")] = None,
    kind: Annotated[RecordKind | None, typer.Option(help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option(help="Records per page.")] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the page before.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a user's records page by page, or (without --user) the index, the schema and
    where the data is.
    """
    if user is None:
        info = run_with_service(debug.index_info)
        if as_json:
            print_json(info)
            return
        rows = [(part, key, value) for part, facts in info.items() for key, value in facts.items()]
        print_table("memcore index", ("part", "fact", "value"), rows)
        return

    async def use(memory: MemoryService) -> tuple[str, Any]:
        page = await memory.list(user, filters={"kind": kind}, limit=limit, cursor=cursor)
        return memory.store.target, page

    data, page = run_with_service(use)
    if as_json:
        print_json(
            {
                "items": [record_to_dict(r) for r in page.items],
                "next_cursor": page.next_cursor,
                "data": data,
            }
        )
        return
    print_table(
        f"records of {user}",
        ("created", "id", "kind", "task", "outcome", "text"),
        (
            (
                r.created_at.isoformat(timespec="seconds"),
                r.id,
                r.kind.value,
                getattr(r, "task", ""),
                getattr(getattr(r, "outcome", None), "value", ""),
                shorten(record_text(r)),
            )
            for r in page.items
        ),
    )
    typer.echo(f"data: {data}")
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}")


@app.command()
def stats(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="One user (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Count memories by user, kind and outcome."""

    async def use(memory: MemoryService) -> debug.MemorySummary:
        users = [user] if user is not None else await every_user(memory)
        return await debug.summarize(memory, users)

    summary = run_with_service(use)
    users = [
        {
            "user_id": s.user_id,
            "interventions": s.interventions,
            "reflections": s.reflections,
            "by_outcome": s.by_outcome,
        }
        for s in summary.users
    ]
    totals = {
        "users": len(users),
        "interventions": summary.interventions,
        "reflections": summary.reflections,
        "by_outcome": summary.by_outcome,
    }
    if as_json:
        print_json(
            users[0] if user else {**totals, "per_user": users, "store": summary.store_facts}
        )
        return
    outcomes = sorted(summary.by_outcome)
    rows = [
        (s.user_id, s.interventions, s.reflections, *(s.by_outcome.get(o, 0) for o in outcomes))
        for s in summary.users
    ]
    if user is None:
        total = summary.by_outcome
        rows.append(
            ("TOTAL", summary.interventions, summary.reflections, *(total[o] for o in outcomes))
        )
    print_table("memories", ("user", "interventions", "reflections", *outcomes), rows)
