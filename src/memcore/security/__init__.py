"""Security layers around the store, each one a store decorator or a helper of one.

- :mod:`memcore.security.encryption`: :class:`EncryptionPolicy`, AES-GCM at rest
  (needs the ``cryptography`` package: ``pip install agent-memcore[encryption]``).
- :mod:`memcore.security.keyring`, :mod:`memcore.security.keystores`: master keys and
  per-user data keys (crypto-shredding).
- :mod:`memcore.security.audit`: :class:`AuditPolicy`, an append-only access log.

Modules are imported from where they live; this package imports none of them, so the
core runs without ``cryptography``.
"""
