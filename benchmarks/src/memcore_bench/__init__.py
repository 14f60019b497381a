"""``memcore bench``: memcore against RedisVL and the bare floors, on one workload.

The development-only distribution agent-memcore-bench (``pip install -e benchmarks`` from a
checkout; never published) adds the command to ``memcore`` through the ``memcore.cli``
entry points.

- :mod:`.workload`: coaching interventions and reflections from templates, many users.
- :mod:`.targets`: memcore through its service, and the numpy floor.
- :mod:`.redis_targets` (imported when agent-memcore-redis is installed):
  memcore on Redis (HASH, JSON), RedisVL, the redis-py floor.
- :mod:`.runner`: one run, operations interleaved across targets.
- :mod:`.embedding`: the local model's throughput, coalescing and cache hits.
- :mod:`.report` and :mod:`.suite`: tables (markdown, JSON), ratios and plots.
"""
