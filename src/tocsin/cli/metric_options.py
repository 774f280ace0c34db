"""The names ``metric create`` and ``metric update`` give a metric's fields: their flags.

The builder (``tocsin.metrics.definition``) and the store name inputs and stored fields;
CLI users read the flag they typed (``--every``), as everywhere in the CLI."""

from __future__ import annotations

from tocsin.errors import InvalidInput

# The stored fields the store's errors name.
FLAG_NAMES = {
    "source.sql": "--sql",
    "source.dsn_env": "--dsn-env",
    "source.dsn_credential": "--dsn-credential",
    "source.url": "--url",
    "source.type": "--source",
    "selector.json_path": "--json-path",
    "selector.column": "--column",
    "selector.row": "--row",
    "selector.series_by": "--series-by",
    "selector.fresh_column": "--fresh-column",
    "selector.fresh_path": "--fresh-path",
    "selector.max_age_seconds": "--max-age",
    "selector": "--column",
    "schedule.cron": "--cron",
    "schedule.timezone": "--timezone",
    "schedule.every_seconds": "--every",
    "expect_every_seconds": "--expect-every",
    "name": "NAME",
    "value": "--value",
}
# The builder's inputs its errors name.
INPUT_FLAGS = {
    "sql": "--sql",
    "dsn_env": "--dsn-env",
    "dsn_credential": "--dsn-credential",
    "url": "--url",
    "method": "--method",
    "headers": "--header",
    "every": "--every",
    "expect_every": "--expect-every",
    "cron": "--cron",
    "timezone": "--timezone",
    "metric": "METRIC",
    "fresh_column": "--fresh-column",
    "fresh_path": "--fresh-path",
    "max_age": "--max-age",
    "labels": "--label",
    "result": "--result",
}


def spell(name: str) -> str:
    """An input as the builder's messages name it here: its flag (``--source``)."""
    return INPUT_FLAGS.get(name, f"--{name}")


def flagged(exc: InvalidInput) -> InvalidInput:
    """Name the CLI flag, not the input or stored field, in messages for CLI users."""

    def flag(field: str) -> str:
        if field.startswith("source.headers"):
            return "--header"
        return FLAG_NAMES.get(field) or INPUT_FLAGS.get(field, field)

    errors = [(flag(f), m) for f, m in exc.errors]
    return InvalidInput(errors[0][0], errors[0][1], more=errors[1:])
