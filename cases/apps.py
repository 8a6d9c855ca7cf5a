from __future__ import annotations

from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from cases import audit_keys, signals  # noqa: F401  (system check; login auditing)

        post_migrate.connect(
            signals.reclassify_after_migrate, sender=self, dispatch_uid="cases_reclassify"
        )
