from __future__ import annotations

import pytest
from pydantic import SecretStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from memcore.security.credentials import Credentials, user_for

KEYS = TypeAdapter(Credentials).validate_python(
    {"alice-key-0123456789": "alice", "bob-key-01234567890": "bob"}
)


def test_a_secret_names_its_user_and_nothing_else_does() -> None:
    assert user_for("alice-key-0123456789", KEYS) == "alice"
    assert user_for("bob-key-01234567890", KEYS) == "bob"
    for other in (
        "",
        "alice",
        "alice-key-012345678",
        "alice-key-01234567890",
        "ALICE-KEY-0123456789",
    ):
        assert user_for(other, KEYS) is None


def test_secrets_stay_hidden() -> None:
    assert "alice-key" not in repr(KEYS)
    assert all(isinstance(secret, SecretStr) for secret in KEYS)


@pytest.mark.parametrize(
    "credentials", [{"short": "alice"}, {"long-enough-secret-0": "*"}, {"long-enough-secret-0": ""}]
)
def test_short_secrets_and_bad_user_ids_are_refused(credentials: dict[str, str]) -> None:
    with pytest.raises(PydanticValidationError):
        TypeAdapter(Credentials).validate_python(credentials)
