"""FilterSets shared by the triage queue and the API, so both filter the same way."""

from __future__ import annotations

import django_filters
from django.db.models import OrderBy, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from cases.intake.models import Finding, FindingSource, FindingStatus

Ordering = tuple[str | OrderBy, ...]

# The orderings of the triage queue and the API. Other apps add theirs at start-up through
# finding_sort_register (detection adds "score"), so intake never imports them.
SORTS: dict[str, Ordering] = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "updated": ("-updated_at", "-id"),
    "host": ("host", "-id"),
}


def finding_sort_register(name: str, ordering: Ordering) -> None:
    """Offer one more ordering of findings (called from an AppConfig.ready)."""
    SORTS[name] = ordering


class FindingFilter(django_filters.FilterSet):
    """Filters on findings. `artist` and `platform` take ids; the queryset passed in is
    already scoped to the user's agency, so an id of another agency simply matches nothing."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    status = django_filters.MultipleChoiceFilter(choices=FindingStatus.choices, label=_("Status"))
    source = django_filters.ChoiceFilter(choices=FindingSource.choices, label=_("Source"))
    artist = django_filters.NumberFilter(field_name="artists", label=_("Artist"))
    platform = django_filters.NumberFilter(field_name="platform_id", label=_("Platform"))
    assignee = django_filters.NumberFilter(field_name="assignee_id", label=_("Assignee"))
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Finding
        fields = ["q", "status", "source", "artist", "platform", "assignee"]

    def search(self, queryset: QuerySet[Finding], name: str, value: str) -> QuerySet[Finding]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(canonical_url__icontains=value) | Q(host__icontains=value) | Q(notes__icontains=value)
        )
