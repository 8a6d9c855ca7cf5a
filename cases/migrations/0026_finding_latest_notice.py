# Each finding's newest notice (status, due time) kept on the finding by database triggers
# (cases/notices/latest_sql.py), so that the triage queue's page query no longer reaches the
# notice tables (issue 12: a fresh database connection loads every index of every table a
# query touches). The columns are filled from the current notices, then the triggers keep
# them; on PostgreSQL the migration is one transaction and CREATE TRIGGER locks the link and
# notice tables against writes until it commits.

from django.db import migrations, models

from cases.notices import latest_sql


def install_and_backfill(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        # On SQLite the triggers exist only outside `migrate` (a later migration rebuilding
        # the findings table would fail on them): installed and backfilled after it
        # (cases/notices/latest_sql.py, latest_notice_triggers_ensure).
        return
    latest_sql.install(schema_editor, vendor)
    schema_editor.execute(latest_sql.rebuild_sql(vendor, only_linked=True))


def uninstall(apps, schema_editor):
    for statement in latest_sql.uninstall_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0025_finding_fewer_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="latest_notice_status",
            field=models.CharField(blank=True, default="", editable=False, max_length=20),
        ),
        migrations.AddField(
            model_name="finding",
            name="latest_notice_due",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(install_and_backfill, uninstall, elidable=False),
    ]
