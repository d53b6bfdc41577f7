"""Command-line entry points: ``python -m app.commands.<name>``."""
