"""Database layer: schema, engine set-up and migrations."""
