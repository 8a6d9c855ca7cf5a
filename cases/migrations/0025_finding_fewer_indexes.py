# Fewer indexes on findings (issue 12: every index is paid for on each imported row, and a
# fresh database connection loads every index of a table the first time it plans a query).
#
# - created_by: nothing filters on it.
# - finding_host_trgm (migration 0016, PostgreSQL only): the triage search no longer looks
#   in the host on its own; the host is part of the canonical URL, whose trigram index
#   answers the same substrings.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def drop_host_trigram(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('DROP INDEX IF EXISTS "finding_host_trgm"')


def create_host_trigram(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'CREATE INDEX IF NOT EXISTS "finding_host_trgm" ON "cases_finding" '
            'USING gin (UPPER("host") gin_trgm_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0024_import_report_job_no_constraint"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="finding",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(drop_host_trigram, create_host_trigram, elidable=False),
    ]
