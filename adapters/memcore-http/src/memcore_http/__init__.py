"""memcore over HTTP: ``memcore serve``, or :func:`create_app` in your own ASGI server.

Every ``/v1`` request acts for the user its credential names (see :mod:`memcore_http.auth`).
"""

from memcore_http.app import MemoryFactory, create_app
from memcore_http.settings import HttpSettings, load_http_settings

__all__ = ["HttpSettings", "MemoryFactory", "create_app", "load_http_settings"]
