"""Adapters that ship with the core: the in-memory store and the offline hashing embedder."""
