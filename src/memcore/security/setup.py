"""The encryption layer as settings describe it (imported only when encryption is on)."""

from __future__ import annotations

from memcore import registry
from memcore.security.encryption import EncryptionPolicy
from memcore.security.keyring import DataKeyStore, Keyring, KeySource, MasterKeys, UserDataKeys
from memcore.security.keystores import FileDataKeyStore
from memcore.settings import MemcoreSettings

__all__ = ["encryption_policy"]


def encryption_policy(settings: MemcoreSettings) -> EncryptionPolicy:
    """The encryption policy of ``MEMCORE_ENCRYPTION__*``: master keys, or per-user keys."""
    encryption = settings.encryption
    keyring = Keyring.from_secrets(encryption.keys, encryption.primary_key or "")
    keys: KeySource = MasterKeys(keyring)
    if encryption.per_user_keys:
        data_keys: DataKeyStore = (
            FileDataKeyStore(encryption.data_key_file)
            if encryption.data_key_store == "file" and encryption.data_key_file is not None
            else registry.data_key_stores.create(settings, encryption.data_key_store)
        )
        keys = UserDataKeys(keyring, data_keys)
    return EncryptionPolicy(keys, filterable_metadata=encryption.filterable_metadata)
