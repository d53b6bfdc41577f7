"""Domain layer: every rule lives here, and every transaction is opened and closed here."""
