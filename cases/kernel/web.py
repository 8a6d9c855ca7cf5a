"""What every view shares: the role decorator, pagination without COUNT(*), safe redirects."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails

from cases.kernel.jobs import Job, job_dispatch_pending
from cases.kernel.models import Membership, Role
from cases.kernel.outbox import QUEUED_OFFLINE
from cases.kernel.tenancy import membership_for

PAGE_SIZE = 50
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Higher rank includes the lower ones: an admin may do what legal staff may, and more.
ROLE_RANK = {Role.VIEWER: 0, Role.LEGAL: 1, Role.ADMIN: 2}


class HtmxHttpRequest(HttpRequest):
    """The request a view behind member_required gets: logged in (so `user` is a `User`,
    never AnonymousUser), with the membership the decorator found and django-htmx's details."""

    user: User
    htmx: HtmxDetails
    membership: Membership


View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def member_required(*, read: str = Role.VIEWER, write: str = Role.LEGAL) -> Callable[[View], View]:
    """Log-in plus agency membership, with the least role needed to read (GET) and to
    write (any other method). Viewers read everything of their agency and write nothing;
    admin-only pages pass read=write=Role.ADMIN. A logged-in user without a membership
    (say a superuser) gets an explanatory page instead of an empty or broken one."""

    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapped(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = membership_for(request.user)
            if membership is None:
                return render(request, "cases/no_membership.html", status=403)
            needed = read if request.method in SAFE_METHODS else write
            if ROLE_RANK[Role(membership.role)] < ROLE_RANK[Role(needed)]:
                raise PermissionDenied
            request.membership = membership
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def partial_or_page(request: HtmxHttpRequest, template: str, partial: str) -> str:
    """htmx requests that target a part of the page get only that part."""
    return f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template


@dataclass
class Page:
    """One page of results. We fetch one row more than shown to know whether a next page
    exists, so no page ever runs COUNT(*) over a table of 100,000 findings."""

    items: Sequence[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.items else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + len(self.items)


# Beyond this a page's offset would overflow the database's integer; no list is that long.
MAX_PAGE = 1_000_000


def page_number(request: HttpRequest) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


def paginate(
    request: HttpRequest, rows: QuerySet[Any] | Sequence[Any], page_size: int = PAGE_SIZE
) -> Page:
    number = page_number(request)
    offset = (number - 1) * page_size
    items = list(rows[offset : offset + page_size + 1])
    return Page(items=items[:page_size], number=number, has_next=len(items) > page_size)


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Return to `next` when it is one of our own URLs (a filtered queue), else to fallback."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse(fallback)
    return HttpResponseRedirect(target)


# A database id: ASCII digits (str.isdigit() also accepts "²" and "٣") within a bigint.
_ID = re.compile(r"[0-9]{1,18}")


def query_id(request: HttpRequest, name: str) -> int | None:
    """The id in query parameter `name`, or None when it is absent or not an id (a filter
    with a malformed id filters nothing instead of failing the page)."""
    value = request.GET.get(name, "")
    return int(value) if _ID.fullmatch(value) else None


def query_text(request: HttpRequest, name: str) -> str:
    """Search text from query parameter `name`, trimmed and without NUL characters (which
    PostgreSQL refuses in any string, so they would fail the query)."""
    return request.GET.get(name, "").replace("\x00", "").strip()


def parse_ids(text: str) -> list[int]:
    """Finding ids pasted as '12, 15 #18': every run of digits is one id (at most 1,000,
    and none beyond a database integer, so junk input cannot break the query)."""
    ids = [int(digits) for digits in re.findall(r"\d+", text) if len(digits) <= 18]
    return list(dict.fromkeys(ids))[:1000]


def job_queued_message(request: HttpRequest, job: Job, normal: str = "") -> None:
    """Tell the person what happened to the job they queued: when its message could not be
    sent (the broker is unreachable; the outbox sends it later) say so, whatever `normal`
    would have claimed; otherwise the view's own message, if any."""
    if job_dispatch_pending(job):
        messages.warning(request, str(QUEUED_OFFLINE))
    elif normal:
        messages.success(request, normal)
