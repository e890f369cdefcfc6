"""PostgreSQL: search latency that does not depend on luck or on vacuum.

- Each chunk's tsvector stays inline and uncompressed in its row. A chunk's row is a few
  kilobytes; by default PostgreSQL compresses rows over 2 kB, and matching or ranking a
  compressed tsvector decompresses it first: tens of microseconds per candidate.
- The GIN index is updated as chunks are written (fastupdate off). With fastupdate on, new
  entries wait in a pending list that every search scans linearly until a vacuum merges
  them: after a bulk upload, searches were several times slower and the planner, seeing
  an expensive index, fell back to sequential scans.
A no-op on SQLite.
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE bots_chunk SET (toast_tuple_target = 8160)",
    "ALTER TABLE bots_chunk ALTER COLUMN search_vector SET STORAGE MAIN",
    "ALTER INDEX bots_chunk_search_vector_gin SET (fastupdate = off)",
]
BACKWARD = [
    "ALTER TABLE bots_chunk RESET (toast_tuple_target)",
    "ALTER TABLE bots_chunk ALTER COLUMN search_vector SET STORAGE EXTENDED",
    "ALTER INDEX bots_chunk_search_vector_gin RESET (fastupdate)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("bots", "0003_modelconfig_base_url")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
