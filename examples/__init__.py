"""Programs an agent developer can copy; CI runs each of them (tests/examples)."""
