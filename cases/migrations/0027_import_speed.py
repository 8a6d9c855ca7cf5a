# Less index work per imported finding (issue 12: on PostgreSQL the findings COPY and its
# indexes dominate an import), each index still serving its queries:
#
# - assignee: indexed where set only (finding_assignee). Imported findings have none; every
#   query by assignee names one, which implies not null, so the partial index serves it.
# - finding_notes_trgm (migration 0016, PostgreSQL only): over non-empty notes only. An
#   empty value still cost each row a GIN entry; the search (intake.filters) says
#   `notes <> ''` beside its substring test, which no empty notes matched anyway.
# - canonical_hash in the "C" collation (PostgreSQL only): the unique index compares hashes
#   bytewise instead of through the database's locale (C.UTF-8), about 0.5 s less server
#   CPU per 100,000 imported rows. Lowercase hex: equality and order are the same in both.
#   Kept out of the model state: SQLite has no collation of that name. A later AlterField
#   of the column would drop it; tests/cases/test_import_speed_pg.py says so.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# The index Django named for the assignee FK (the same name on every database).
ASSIGNEE_FK_INDEX = "cases_finding_assignee_id_97388746"


def _postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def forwards(apps, schema_editor):
    if not _postgres(schema_editor):
        return
    schema_editor.execute('DROP INDEX IF EXISTS "finding_notes_trgm"')
    schema_editor.execute(
        'CREATE INDEX "finding_notes_trgm" ON "cases_finding" '
        """USING gin (UPPER("notes") gin_trgm_ops) WHERE "notes" <> ''"""
    )
    schema_editor.execute(
        'ALTER TABLE "cases_finding" ALTER COLUMN "canonical_hash" TYPE varchar(64) COLLATE "C"'
    )


def backwards(apps, schema_editor):
    if not _postgres(schema_editor):
        return
    schema_editor.execute(
        'ALTER TABLE "cases_finding" ALTER COLUMN "canonical_hash" TYPE varchar(64) '
        'COLLATE "default"'
    )
    schema_editor.execute('DROP INDEX IF EXISTS "finding_notes_trgm"')
    schema_editor.execute(
        'CREATE INDEX "finding_notes_trgm" ON "cases_finding" '
        'USING gin (UPPER("notes") gin_trgm_ops)'
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0026_finding_latest_notice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The FK's own index dropped by name rather than by AlterField, which on SQLite
        # rebuilds the table, and the notice triggers of migration 0026 refer to it there.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="finding",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="assigned_findings",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{ASSIGNEE_FK_INDEX}"',
                    f'CREATE INDEX "{ASSIGNEE_FK_INDEX}" ON "cases_finding" ("assignee_id")',
                    elidable=False,
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("assignee__isnull", False)),
                fields=["assignee"],
                name="finding_assignee",
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
