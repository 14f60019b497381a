"""``python -m memcore_bench``: the same as ``memcore bench``."""

from memcore_bench.cli import app

app()
