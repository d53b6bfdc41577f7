"""Custom Rasa NLU graph components (listed by module path in config.yml)."""
