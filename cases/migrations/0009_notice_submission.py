"""Issue 9: web-form notices wait for a recorded submission; each basis's default wording
carries only its own statements.

Data steps:
- finalised_at of every notice already sent is its sent_at (the text became final then).
- No notice's status is changed here: a migration cannot write audit events (historical
  models, no audit key). Web-form notices the old code marked "sent" when they were only
  finalised, and that got no answer since, are put back to "ready, awaiting submission"
  after migrating, one audit event each, by cases.services.notice_reclassify (run from a
  post_migrate receiver and by `manage.py notices_reclassify`).
- An agency's stored template that is still an old shipped default word for word
  (compared by digest, line ends normalised) is removed, so the agency gets the new
  default; any template an admin changed is left exactly as it is.
"""

import hashlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# SHA-256 (template_digest) of every default shipped before this migration, per
# (basis, language). A row with one of these digests was never edited by its agency.
OLD_DEFAULT_DIGESTS = {
    ("dmca_512c3", "en"): {"b23feb40d90de151caee36c8ea133e375802fdd3c1ec3130779b43cc23d8f206"},
    ("eu_dsa_16", "en"): {"b6bb3315e9d3583dd5744d136886f59ef68aa14891acf03589b6a6a0b8383324"},
    ("take_it_down", "en"): {"44009256418fb63fe42b7b935480e86cfe2cf9829035983b0ac7de05495f31cc"},
    ("kr_network_act_44_2", "en"): {
        "d17db80cecfdd5d8dec40471e14d4686f008357e126e4fa13ad687b846078f5f"
    },
    ("kcsc", "en"): {"a008ce3b05dbb9e516ac23ace31d328cce8f35e4bb3126578a61783f1c118078"},
    ("platform_policy", "en"): {"73dde24f3f812304d8217b496ceb232fc7dcd656d31bbc30cbc588a604f4123b"},
    ("dmca_512c3", "ko"): {"2a078e3b06bf88e98cc9f46da42ba6a086bc987ce8b8adceccc23b32705078a2"},
    ("eu_dsa_16", "ko"): {"6e22f218d14d55c630b23f2dfd6d03be46f8df5a35d779a1f3ccecb4bd669b0a"},
    ("take_it_down", "ko"): {"4e66cc418509ac5bd2f27fcf69ac59d29ad8bb28ae6a2fe582012daa841b951c"},
    ("kr_network_act_44_2", "ko"): {
        "d49495499c39e6ed9d465263b72e1f1a442322773f7148147eb16802e03e3a76"
    },
    ("kcsc", "ko"): {"87bf983b347c0a342ea11ed9cc899f477a9040cc08f98083568269e1e70345a3"},
    ("platform_policy", "ko"): {"5352e7af1f01c684d4e13ce51c4d13baf4550307475724c0613fa8772ae509ee"},
}


def template_digest(subject: str, body: str) -> str:
    """Digest of a template as an admin's browser would post it back unchanged: CRLF or
    LF line ends, trailing spaces and surrounding blank lines do not count."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    body = "\n".join(line.rstrip() for line in body.split("\n")).strip()
    return hashlib.sha256(f"{subject.strip()}\n\n{body}".encode()).hexdigest()


def _check_constraints_now(schema_editor) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL refuses the CREATE INDEX that Django runs at the end of the migration while
    # deferred foreign-key checks of the rows changed here are pending: run them now.
    if schema_editor is not None and schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def reset_untouched_defaults(apps, schema_editor, digests=None) -> int:  # type: ignore[no-untyped-def]
    _check_constraints_now(schema_editor)
    NoticeTemplate = apps.get_model("cases", "NoticeTemplate")
    digests = OLD_DEFAULT_DIGESTS if digests is None else digests
    untouched = [
        row.pk
        for row in NoticeTemplate.objects.all().iterator()
        if template_digest(row.subject, row.body)
        in digests.get((row.legal_basis, row.language), set())
    ]
    NoticeTemplate.objects.filter(pk__in=untouched).delete()
    return len(untouched)


def finalised_at_from_sent_at(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    _check_constraints_now(schema_editor)
    Notice = apps.get_model("cases", "Notice")
    Notice.objects.filter(finalised_at__isnull=True, sent_at__isnull=False).update(
        finalised_at=models.F("sent_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_pdq_trimmed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="finalised_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="text final"),
        ),
        migrations.AddField(
            model_name="notice",
            name="submission_confirmation",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="cases.evidence",
                verbose_name="submission confirmation",
            ),
        ),
        migrations.AddField(
            model_name="notice",
            name="submitted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="submitted by",
            ),
        ),
        migrations.AlterField(
            model_name="notice",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("awaiting_submission", "Ready, awaiting submission"),
                    ("sent", "Sent"),
                    ("acknowledged", "Acknowledged"),
                    ("actioned", "Actioned"),
                    ("rejected", "Rejected"),
                    ("no_response", "No response"),
                ],
                default="draft",
                max_length=20,
                verbose_name="status",
            ),
        ),
        migrations.AddConstraint(
            model_name="notice",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["draft", "awaiting_submission"]),
                    ("sent_at__isnull", False),
                    _connector="OR",
                ),
                name="notice_sent_has_sent_at",
            ),
        ),
        migrations.AddConstraint(
            model_name="notice",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "awaiting_submission"), _negated=True),
                    models.Q(("due_at__isnull", True), ("sent_at__isnull", True)),
                    _connector="OR",
                ),
                name="notice_awaiting_not_sent",
            ),
        ),
        # Data last: on PostgreSQL no ALTER TABLE may follow row changes in one transaction.
        migrations.RunPython(finalised_at_from_sent_at, migrations.RunPython.noop),
        migrations.RunPython(reset_untouched_defaults, migrations.RunPython.noop),
    ]
