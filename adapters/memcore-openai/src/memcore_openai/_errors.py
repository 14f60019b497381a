"""Every openai exception becomes a memcore error here, and nowhere else.

Transient failures (429, 408, 409, 5xx, connection errors, timeouts) are
:class:`Transient` while attempts remain and
:class:`~memcore.errors.EmbeddingUnavailableError` once the retry budget is spent. Every
other status (400, 401, 403, 404, 422...) is an :class:`~memcore.errors.EmbeddingError`
at once: retrying a bad key or an unknown model only burns quota. No message leaves this
module with a secret in it.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable

import openai

from memcore.errors import EmbeddingError, EmbeddingUnavailableError

_RETRYABLE_STATUS = frozenset({408, 409, 429})
_MAX_RETRY_AFTER = 120.0  # ignore absurd server hints; the deadline bounds waits anyway


class Transient(Exception):  # noqa: N818 - an internal signal, not an error users see
    """A failure worth retrying; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, error: EmbeddingUnavailableError, retry_after: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class Redactor:
    """Replaces every secret (API key, secret header values) in text with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def scrub(self, exc: BaseException) -> None:
        """Mask secrets in a vendor exception before it is chained as a ``__cause__``."""
        exc.args = tuple(self(a) if isinstance(a, str) else a for a in exc.args)
        if isinstance(exc, openai.APIError):
            exc.message = self(exc.message)
            exc.body = None  # the raw reply may echo the key; its message is kept above


def translate(exc: Exception, redact: Redactor, *, model: str) -> Transient | EmbeddingError:
    """The memcore view of an exception raised by one embeddings request."""
    context = {"operation": "embed", "backend": "openai"}
    if isinstance(exc, openai.APITimeoutError):
        return Transient(EmbeddingUnavailableError("request timed out", **context), None)
    if isinstance(exc, openai.APIConnectionError):
        detail = redact(str(exc.__cause__ or exc))
        return Transient(EmbeddingUnavailableError(f"connection failed: {detail}", **context), None)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = f"HTTP {status}: {redact(_server_message(exc))}"
        if status in _RETRYABLE_STATUS or status >= 500:  # noqa: PLR2004
            unavailable = EmbeddingUnavailableError(message, **context)
            return Transient(unavailable, retry_after(exc.response.headers))
        hint = " (check MEMCORE_OPENAI_API_KEY)" if status in (401, 403) else ""
        if status == 404:  # noqa: PLR2004
            hint = f" (check MEMCORE_OPENAI_MODEL={model!r} and MEMCORE_OPENAI_BASE_URL)"
        return EmbeddingError(f"request rejected, {message}{hint}", **context)
    # The client could not parse the reply (malformed JSON, missing data...).
    return EmbeddingError(
        f"malformed response: {type(exc).__name__}: {redact(str(exc))}", **context
    )


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return exc.message


def retry_after(headers: object) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, or ``Retry-After`` in
    seconds or as an HTTP date. ``None`` without a usable hint.
    """
    get = getattr(headers, "get", None)
    if get is None:
        return None
    seconds: float | None = None
    millis = get("retry-after-ms")
    if millis is not None:
        try:
            seconds = float(millis) / 1000
        except ValueError:
            seconds = None
    raw = get("retry-after")
    if seconds is None and raw is not None:
        try:
            seconds = float(raw)
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            seconds = None if parsed is None else email.utils.mktime_tz(parsed) - time.time()
    if seconds is None or seconds < 0:
        return None
    return min(seconds, _MAX_RETRY_AFTER)
