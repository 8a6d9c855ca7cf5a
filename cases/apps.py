from __future__ import annotations

from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        # The composition root: the one place that wires the contexts' hooks together, so
        # that no context imports a context above it (docs/architecture.md).
        from cases import wiring  # app registry not ready at module import

        wiring.connect(self)
