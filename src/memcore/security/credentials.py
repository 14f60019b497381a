"""Credentials that bind a request to its user: a map of secret → user id.

The HTTP service's API keys and the MCP server's bearer tokens are both such a map
(``{"<secret>": "<user id>"}``, from a JSON setting). The user a request acts for comes
from the credential it presents, never from its path or body, so one user's key can
never reach another user's memories.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import AfterValidator, SecretStr

from memcore.validation import validate_user_id

__all__ = ["MIN_SECRET_CHARS", "Credentials", "long_secrets", "user_for"]

HolderT = TypeVar("HolderT")

MIN_SECRET_CHARS = 16
"""Shorter secrets are refused: they could be guessed."""


def long_secrets(credentials: dict[SecretStr, HolderT]) -> dict[SecretStr, HolderT]:
    """``credentials`` if every secret has at least :data:`MIN_SECRET_CHARS` characters."""
    if any(len(secret.get_secret_value()) < MIN_SECRET_CHARS for secret in credentials):
        raise ValueError(f"every secret must have at least {MIN_SECRET_CHARS} characters")
    return credentials


def _checked(credentials: dict[SecretStr, str]) -> dict[SecretStr, str]:
    for user_id in long_secrets(credentials).values():
        validate_user_id(user_id)
    return credentials


Credentials = Annotated[dict[SecretStr, str], AfterValidator(_checked)]
"""A settings field type: JSON ``{"secret": "user id"}``, secrets hidden in reprs."""


def user_for(presented: str, credentials: Mapping[SecretStr, HolderT]) -> HolderT | None:
    """The holder (a user id, say) ``presented`` is the secret of, or ``None``.

    Every secret is compared, each in constant time, so the answer's timing says
    nothing about which secret came close.
    """
    given = presented.encode("utf-8", "surrogatepass")
    found = None
    for secret, holder in credentials.items():
        if hmac.compare_digest(given, secret.get_secret_value().encode("utf-8", "surrogatepass")):
            found = holder
    return found
