"""The chunks' full-text index, one per database backend.

PostgreSQL: accent-insensitive text search configurations (unaccent, then the language's
stemmer), a stored `search_vector` tsvector column and its GIN index.
SQLite: an FTS5 table keyed by the chunk id, diacritics removed, and a trigger that
drops a chunk's entry whenever the chunk row goes (a cascade included).
Each half is a no-op on the other backend.
"""

from django.db import migrations

# Our configuration names, by bot language; `bytchat_simple` is the fallback.
POSTGRES_CONFIGURATIONS = {
    "bytchat_es": "spanish",
    "bytchat_en": "english",
    "bytchat_simple": "simple",
}

SQLITE_FORWARD = [
    # `bot` holds one token per row, the bot's id, so that a match filters by bot inside
    # the index.
    "CREATE VIRTUAL TABLE bots_chunk_fts USING fts5("
    "text, bot, tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER bots_chunk_fts_delete AFTER DELETE ON bots_chunk BEGIN "
    "DELETE FROM bots_chunk_fts WHERE rowid = old.id; END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS bots_chunk_fts_delete",
    "DROP TABLE IF EXISTS bots_chunk_fts",
]


def _postgres_forward() -> list[str]:
    statements = ["CREATE EXTENSION IF NOT EXISTS unaccent"]
    for name, base in POSTGRES_CONFIGURATIONS.items():
        dictionary = "simple" if base == "simple" else f"{base}_stem"
        statements += [
            f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name}",
            f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = pg_catalog.{base})",
            f"ALTER TEXT SEARCH CONFIGURATION {name} "
            f"ALTER MAPPING FOR hword, hword_part, word WITH unaccent, {dictionary}",
        ]
    statements += [
        "ALTER TABLE bots_chunk ADD COLUMN search_vector tsvector",
        "CREATE INDEX bots_chunk_search_vector_gin ON bots_chunk USING gin (search_vector)",
    ]
    return statements


def _postgres_backward() -> list[str]:
    statements = [
        "DROP INDEX IF EXISTS bots_chunk_search_vector_gin",
        "ALTER TABLE bots_chunk DROP COLUMN IF EXISTS search_vector",
    ]
    statements += [f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name}" for name in POSTGRES_CONFIGURATIONS]
    return statements


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        for statement in statements() if callable(statements) else statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("bots", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": _postgres_forward, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": _postgres_backward, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
