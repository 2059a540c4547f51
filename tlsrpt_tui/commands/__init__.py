"""Headless subcommands. Each module has ``register(subparsers)`` that adds its parser
and sets ``func`` (taking the parsed namespace, returning an exit status)."""
