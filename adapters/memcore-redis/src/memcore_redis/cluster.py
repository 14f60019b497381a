"""RedisClusterStore: memories on a Redis Cluster (store name ``redis-cluster``).

The search module of Redis Stack (RediSearch without its coordinator) indexes, on each
node, only the keys that node holds, and treats an index name as a key of its own slot.
memcore's layout fits that: every key of a user carries the user's hash tag, so all of a
user's records live in one slot, on one primary, and every query is one user's.

So the store keeps one :class:`~memcore_redis.node.ClusterNodeStore` per primary. Each names its
index, schema and epoch keys with a hash tag of a slot that primary owns (``{0}``,
``{1}``...: the smallest such integer), and each user's calls go to the primary that
owns the user's slot, found by redis-py's cluster client from the cluster's slot map.
``user_ids`` and ``health`` ask every primary; ``ensure_schema`` creates the index on
each.

When slots move (resharding, a failover), a node answers ``MOVED``: the store re-reads
the slot map, opens a store for any new primary (creating its index, which indexes the
keys the node already holds) and tries the call once more. Every call is safe to repeat
after ``MOVED``: a redirected command was not run. If a primary no longer owns the slot
of its index name, its index gets a new name; the old index stays on that node, unreached
(see docs/scale-out.md).
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis import exceptions as rex
from redis.asyncio.cluster import ClusterNode, RedisCluster

from memcore.domain import EmbeddingSchema, HealthCheck, HealthStatus, Status, UserIds
from memcore.errors import StoreError, StoreUnavailableError
from memcore.pipeline import Call, Result, StoreCalls, store_terminal
from memcore.settings import MemcoreSettings
from memcore_redis.client import connection_options
from memcore_redis.encoding import user_key_prefix
from memcore_redis.errors import BACKEND, map_redis_errors
from memcore_redis.node import ClusterNodeStore
from memcore_redis.settings import RedisSettings, load_redis_settings, redis_settings

__all__ = ["RedisClusterStore"]

T = TypeVar("T")

_ORDER = list(HealthStatus)
_TAG_SEARCH = 1 << 18


class RedisClusterStore(StoreCalls):
    """Memories in a Redis Cluster whose nodes each index their own keys.

    Settings are the :class:`~memcore_redis.RedisSettings` of :class:`~memcore_redis.RedisStore`;
    ``url`` names any node (the seed). Nothing connects before :meth:`ensure_schema`.
    """

    backend = BACKEND

    def __init__(self, settings: RedisSettings | None = None) -> None:
        self.settings = settings if settings is not None else load_redis_settings()
        self._cluster: RedisCluster | None = None  # the slot map, read by _refresh
        self._primaries: dict[str, ClusterNodeStore] = {}  # "host:port" -> that node's store
        self._schema: EmbeddingSchema | None = None
        self._refreshing = asyncio.Lock()
        self._map_version = 0  # slot maps read so far: concurrent MOVEDs share one re-read
        self._closed = False

    @classmethod
    def from_settings(cls, settings: MemcoreSettings) -> RedisClusterStore:
        """Build from the ``redis`` section of ``settings`` (``MEMCORE_REDIS_*``)."""
        return cls(redis_settings(settings))

    @property
    def primaries(self) -> dict[str, ClusterNodeStore]:
        """The store of each primary, by ``host:port`` (empty before :meth:`ensure_schema`)."""
        return dict(self._primaries)

    @property
    def target(self) -> str:
        """The seed node and index, without credentials."""
        return f"cluster+{self.settings.target}"

    async def run(self, call: Call) -> Result[Any]:
        """Route ``call``: to every primary for the schema and user ids, else to the
        primary owning the user's slot.
        """
        if call.operation == "ensure_schema":
            self._schema = call.args["schema"]
            await self._refresh(recheck=True)
            return Result(None, Status.STORED)
        if call.operation == "user_ids":
            users = await self._user_ids()
            return Result(users, users.status)
        return await self._for_user(call.user_id or "", lambda store: store_terminal(store)(call))

    async def _user_ids(self) -> UserIds:
        """Every primary's users; ``partial`` when any primary's answer is."""
        self._require("user_ids")
        found = await _on_all(store.user_ids() for store in self._primaries.values())
        status = next((users.status for users in found if not users.complete), Status.COMPLETE)
        return UserIds(sorted(set(itertools.chain.from_iterable(found))), status=status)

    async def health(self) -> HealthCheck:
        if not self._primaries:
            return HealthCheck(
                component="store",
                status=HealthStatus.DEGRADED if not self._closed else HealthStatus.UNHEALTHY,
                latency_ms=0.0,
                detail="closed" if self._closed else "ensure_schema() was not called yet",
                facts={"backend": BACKEND, "cluster": True},
            )
        nodes = list(self._primaries.items())
        checks = await _on_all(store.health() for _, store in nodes)
        facts: dict[str, str | int | float | bool] = {"cluster": True, "primaries": len(nodes)}
        problems = []
        for (name, _), check in zip(nodes, checks, strict=True):
            facts |= {f"{name} {fact}": value for fact, value in check.facts.items()}
            facts[f"{name} status"] = check.status.value
            if check.status is not HealthStatus.HEALTHY:
                problems.append(f"{name}: {check.detail or check.status.value}")
        worst = max(checks, key=lambda check: _ORDER.index(check.status))
        return HealthCheck(
            component=worst.component,
            status=worst.status,
            latency_ms=max(check.latency_ms for check in checks),
            detail="; ".join(problems),
            facts=facts,
        )

    def pool_stats(self) -> dict[str, int]:
        """The primaries' connection pools added up: ``in_use``, ``idle`` and ``max``."""
        total = {"in_use": 0, "idle": 0, "max": 0}
        for store in self._primaries.values():
            for state, count in store.pool_stats().items():
                total[state] += count
        return total

    def pool_waits(self) -> tuple[int, float]:
        """The primaries' pool waits added up: calls that waited, and the seconds."""
        waits = [store.pool_waits() for store in self._primaries.values()]
        return sum(count for count, _ in waits), sum(seconds for _, seconds in waits)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        stores, self._primaries = list(self._primaries.values()), {}
        for store in stores:
            await store.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()

    async def _for_user(self, user_id: str, call: Callable[[ClusterNodeStore], Awaitable[T]]) -> T:
        """Run ``call`` on the store of the primary owning the user's slot; after a
        ``MOVED`` (or ``ASK``), or for a primary not seen before, re-read the slot map and
        run it once more.
        """
        self._require("a user's call")
        seen = self._map_version
        store = self._owner(user_id)
        if store is not None:
            try:
                return await call(store)
            except StoreUnavailableError as exc:
                if not isinstance(exc.__cause__, rex.AskError):
                    raise
        await self._refresh(unless_newer_than=seen)
        store = self._owner(user_id)
        if store is None:
            raise StoreUnavailableError(
                "the cluster's slot map names a primary that cannot be reached",
                operation="route",
                backend=BACKEND,
                user_id=user_id,
            )
        return await call(store)

    def _owner(self, user_id: str) -> ClusterNodeStore | None:
        if self._cluster is None:
            return None
        node = self._cluster.get_node_from_key(user_key_prefix(self.settings.key_prefix, user_id))
        return None if node is None else self._primaries.get(node.name)

    async def _refresh(self, *, recheck: bool = False, unless_newer_than: int = -1) -> None:
        """Read the slot map; open (and ensure the schema on) a store per new primary, and
        with ``recheck`` check the schema on the others again. A caller that saw map
        ``unless_newer_than`` skips the read if another caller read a newer one meanwhile.
        """
        if self._schema is None:
            raise StoreError("call ensure_schema() first", operation="route", backend=BACKEND)
        async with self._refreshing:
            if self._map_version > unless_newer_than >= 0:
                return
            self._map_version += 1
            # A new cluster client per read: it only holds the slot map (each primary's
            # store has its own pool), and re-initialising one in place leaks connections.
            cluster = RedisCluster.from_url(
                self.settings.url, max_connections=2, **connection_options(self.settings)
            )
            with map_redis_errors("ensure_schema"):
                await cluster.initialize()
            if self._cluster is not None:
                await self._cluster.aclose()
            self._cluster = cluster
            tags = _node_tags(cluster)
            kept = {
                name: store
                for name, store in self._primaries.items()
                if tags.get(name) == store.hash_tag
            }
            fresh = {
                name: ClusterNodeStore(_node_settings(self.settings, name), hash_tag=tag)
                for name, tag in tags.items()
                if name not in kept
            }
            checked = [*fresh.values(), *(kept.values() if recheck else ())]
            try:
                await _on_all(store.ensure_schema(self._schema) for store in checked)
            except BaseException:
                for store in fresh.values():
                    await store.aclose()
                raise
            for name, store in self._primaries.items():
                if kept.get(name) is not store:
                    await store.aclose()
            self._primaries = kept | fresh

    def _require(self, operation: str) -> None:
        if not self._primaries:
            raise StoreError(
                "call ensure_schema() before using the store", operation=operation, backend=BACKEND
            )


async def _on_all(calls: Iterable[Awaitable[T]]) -> builtins.list[T]:
    """Every call's result, run together; the first failure is raised only once all have
    ended (``gather`` alone would leave the others running on connections being closed).
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    done: builtins.list[T] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        done.append(result)
    return done


def _node_tags(cluster: RedisCluster) -> dict[str, str]:
    """Each primary's hash tag: the smallest integer whose slot it owns.

    The first 2^18 integers cover every slot (16,384) with near certainty; a primary with
    no slots gets no tag.
    """
    primaries = len(cluster.get_primaries())
    tags: dict[str, str] = {}
    for number in range(_TAG_SEARCH):
        node: ClusterNode | None = cluster.get_node_from_key(f"{{{number}}}")
        if node is not None:
            tags.setdefault(node.name, str(number))
        if len(tags) == primaries:
            break
    return tags


def _node_settings(settings: RedisSettings, name: str) -> RedisSettings:
    """The settings with ``url`` pointing at node ``host:port`` (credentials kept)."""
    parts = urlsplit(settings.url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{name}" if userinfo else name
    return settings.model_copy(update={"url": urlunsplit((parts.scheme, netloc, "/0", "", ""))})
