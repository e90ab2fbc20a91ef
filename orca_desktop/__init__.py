"""Orca Desktop: a personal LLM router on localhost, with your own keys in the OS keyring."""

__version__ = "0.1.0"
