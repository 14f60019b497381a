"""``python -m memcore.bench``: the same as ``memcore bench``."""

from memcore.bench.cli import app

app()
