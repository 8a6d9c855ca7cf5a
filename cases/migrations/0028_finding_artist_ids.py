# Each finding's artists' ids kept on the finding by database triggers on the link table
# (cases/intake/artist_ids_sql.py), so that the list pages' artists need no query on the
# link table (issue 12: a fresh database connection loads every index of every table a
# query touches). Filled from the current links, then the triggers keep it; on PostgreSQL
# the migration is one transaction and CREATE TRIGGER locks the link table against writes
# until it commits.

from django.db import migrations, models

from cases.intake.artist_ids_sql import ARTIST_IDS, set_ids_sql

LINKS = "cases_finding_artists"


def install_and_backfill(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        # On SQLite the triggers exist only outside `migrate`: installed and backfilled
        # after it (cases/kernel/kept_sql.py, KeptColumns.ensure_after_migrate).
        return
    ARTIST_IDS.install(schema_editor, vendor)
    schema_editor.execute(set_ids_sql(vendor, f"id IN (SELECT finding_id FROM {LINKS})"))


def uninstall(apps, schema_editor):
    for statement in ARTIST_IDS.uninstall_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0027_import_speed"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="artist_ids",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(install_and_backfill, uninstall, elidable=False),
    ]
