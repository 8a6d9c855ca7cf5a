"""FilterSets shared by the triage queue and the API, so both filter the same way."""

from __future__ import annotations

import copy
import datetime as dt
from collections import OrderedDict
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OrderBy, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

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


# The largest value a bigint id column holds: a larger id from the query string is a form
# error (the filter is ignored on the page, 400 on the API), never a database overflow.
MAX_ID = 2**63 - 1


class IdFilter(django_filters.Filter):
    """A whole, positive id within the database's range."""

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


# PostgreSQL accepts offsets up to ±15:59; Python up to ±23:59.
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time whose offset PostgreSQL accepts and that converts to UTC
    (0001-01-01T00:00+15:00 does not): anything else is a form error, not a 500."""

    def to_python(self, value: Any) -> dt.datetime | None:
        try:
            parsed = super().to_python(value)
        except (ValueError, OverflowError) as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(
                _("The time-zone offset must be between -15:59 and +15:59."), code="offset"
            )
        try:
            parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValidationError(_("The date is out of range."), code="range") from exc
        return parsed


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class LeanFilterSet(django_filters.FilterSet):
    """A FilterSet that costs less per request: django-filter (26) deep-copies every filter,
    their choices and lazy labels with them, and builds a new form class each time, about a
    tenth of a triage page. Here each filter is copied shallowly and given what is the
    instance's own (model, parent, and a method bound to the copy, so `self.request` is this
    request's), and the form classes are built once per FilterSet class and set of named
    filters (get_form_class)."""

    _form_classes: dict[tuple[type, frozenset[str]], type] = {}
    all_fields = False  # the form with every filter's field, named in the data or not

    def __init__(
        self,
        data: Any = None,
        queryset: QuerySet[Any] | None = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        if queryset is None:
            queryset = self._meta.model._default_manager.all()  # type: ignore[attr-defined]
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = OrderedDict()
        for name, base in self.base_filters.items():
            own = copy.copy(base)
            own.model, own.parent = queryset.model, self  # type: ignore[attr-defined]
            if base.method is not None:
                own.method = base.method  # a FilterMethod of the copy, not of the base
            self.filters[name] = own

    def get_form_class(self) -> type:
        """The form of the filters the query string names (all of them when unbound), one
        class per FilterSet class and set of names. A filter the data does not name cleans
        to its field's empty value, which filters nothing (django-filter skips empty values;
        a boolean's False reaches only methods that ignore it), so leaving it out of the form
        changes no result and no error, and spares the deep copy and cleaning of every
        field (most of a filter set's cost on an unfiltered page). Only for filters that read
        one query parameter of their own name (no range or multi-widget filters). A form
        shown to people (the browsable API's filter form) sets `all_fields`."""
        every = self.all_fields or not self.is_bound
        data: Any = self.data
        names = frozenset(name for name in self.base_filters if every or name in data)
        key = (type(self), names)
        form = self._form_classes.get(key)
        if form is None:
            full = super().get_form_class()
            form = type(full.__name__, (full,), {})
            form.base_fields = {  # type: ignore[attr-defined]
                name: field for name, field in full.base_fields.items() if name in names
            }
            self._form_classes[key] = form
        return form


class FindingFilter(LeanFilterSet):
    """Filters on findings. `artist` and `platform` take ids; the queryset passed in is
    already scoped to the user's agency, so an id of another agency simply matches nothing."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    # distinct=False: status is a column of the finding itself, so no row can repeat, and
    # django-filter's default DISTINCT over every selected column made the database sort
    # all matches before the LIMIT (seconds at a million findings).
    status = django_filters.MultipleChoiceFilter(
        choices=FindingStatus.choices, label=_("Status"), distinct=False
    )
    source = django_filters.ChoiceFilter(choices=FindingSource.choices, label=_("Source"))
    artist = IdFilter(method="by_artist", label=_("Artist"))
    platform = IdFilter(field_name="platform_id", label=_("Platform"))
    assignee = IdFilter(field_name="assignee_id", label=_("Assignee"))
    mine = django_filters.BooleanFilter(
        method="assigned_to_me", label=_("Assigned to me"), widget=forms.CheckboxInput
    )
    # Findings left for review without an artist (an import row naming someone not on the
    # roster, a fan report without one).
    no_artist = django_filters.BooleanFilter(
        method="without_artist", label=_("Without an artist"), widget=forms.CheckboxInput
    )
    created_after = BoundedIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Created after")
    )
    created_before = BoundedIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label=_("Created before")
    )

    class Meta:
        model = Finding
        fields = ["q", "status", "source", "artist", "platform", "assignee"]

    def assigned_to_me(
        self, queryset: QuerySet[Finding], name: str, value: bool | None
    ) -> QuerySet[Finding]:
        user = getattr(self.request, "user", None)
        if not value or user is None or not user.is_authenticated:
            return queryset
        return queryset.filter(assignee_id=user.pk)

    def by_artist(self, queryset: QuerySet[Finding], name: str, value: int) -> QuerySet[Finding]:
        # EXISTS over the link table: one row per finding without DISTINCT (a join would
        # repeat findings linked twice, and DISTINCT over every selected column is slow).
        links = Finding.artists.through.objects.filter(finding_id=OuterRef("pk"), artist_id=value)
        return queryset.filter(Exists(links))

    def without_artist(
        self, queryset: QuerySet[Finding], name: str, value: bool | None
    ) -> QuerySet[Finding]:
        if not value:
            return queryset
        links = Finding.artists.through.objects.filter(finding_id=OuterRef("pk"))
        return queryset.filter(~Exists(links))

    def search(self, queryset: QuerySet[Finding], name: str, value: str) -> QuerySet[Finding]:
        """Substring search in the URL (its host included) and the notes. On PostgreSQL
        icontains compiles to UPPER(col) LIKE UPPER('%value%'), answered by the trigram GIN
        indexes of migration 0016; SQLite scans (fine at its sizes). The host is not searched
        on its own: it is part of the canonical URL (canonical.canonicalize_url_host), so
        whatever matches in it matches there (migration 0025 dropped its index). The notes'
        index covers non-empty notes only (migration 0027): the search says so, which
        changes no result (a non-empty substring is in no empty notes)."""
        value = value.strip()
        if not value:
            return queryset
        in_notes = Q(notes__icontains=value) & ~Q(notes="")
        return queryset.filter(Q(canonical_url__icontains=value) | in_notes)
