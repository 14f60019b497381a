"""Fault injection, load and the reliability report, against servers of their own."""
