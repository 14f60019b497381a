"""``memcore bench``: memcore against RedisVL and the bare floors, on one workload.

- :mod:`.workload`: coaching interventions and reflections from templates, many users.
- :mod:`.targets`: memcore through its service, and the numpy floor.
- ``memcore_redis.bench`` (found through the ``memcore.bench_targets`` entry point):
  memcore on Redis (HASH, JSON), RedisVL, the redis-py floor.
- :mod:`.runner`: one run, operations interleaved across targets.
- :mod:`.embedding`: the local model's throughput, coalescing and cache hits.
- :mod:`.report` and :mod:`.suite`: tables (markdown, JSON), ratios and plots.
"""
