"""memcore embedder ``local``: a sentence-transformers model on this machine, offline.

Registered as the ``memcore.embedders`` entry point ``local``; select it with
``MEMCORE_EMBEDDER=local`` and configure it with ``MEMCORE_LOCAL_*`` (see
:class:`LocalSettings`). Importing this package loads neither torch nor a model.
"""

from memcore_sentence_transformers._embedder import LocalEmbedder
from memcore_sentence_transformers._settings import LocalSettings

__all__ = ["LocalEmbedder", "LocalSettings"]
