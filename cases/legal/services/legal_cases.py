"""Cases: create, edit, link findings, deadlines."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cases.agency.models import Artist
from cases.intake.models import Finding
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.legal.models import Case, CaseDeadline

CASE_FIELDS = (
    "title",
    "status",
    "jurisdiction",
    "police_report_number",
    "court_docket",
    "counsel_name",
    "counsel_email",
    "notes",
)


def _next_reference(agency: Agency) -> str:
    year = timezone.now().year
    prefix = f"AG-{year}-"
    last = Case.objects.filter(agency=agency, reference__startswith=prefix).aggregate(
        m=Max("reference")
    )["m"]
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


def case_create(
    *,
    agency: Agency,
    actor: User,
    title: str,
    artists: Iterable[Artist] = (),
    findings: Iterable[Finding] = (),
    **fields: Any,
) -> Case:
    with transaction.atomic():
        # Lock the agency row so two cases created at once get different references.
        Agency.objects.select_for_update().get(pk=agency.pk)
        case = Case(agency=agency, title=title, reference=_next_reference(agency), created_by=actor)
        for name in CASE_FIELDS:
            if name in fields:
                setattr(case, name, fields[name])
        case.save()
        case.artists.set([a for a in artists if a.agency_id == agency.pk])
        finding_list = [f for f in findings if f.agency_id == agency.pk]
        case.findings.set(finding_list)
        audit_record(
            agency=agency,
            actor=actor,
            action="case.created",
            obj=case,
            data={
                "reference": case.reference,
                "title": title,
                "findings": [f.pk for f in finding_list],
            },
        )
        _case_artists_from_findings(case=case, actor=actor, findings=finding_list)
    return case


def case_update(
    *, case: Case, actor: User, artists: Iterable[Artist] | None = None, **fields: Any
) -> Case:
    with transaction.atomic():
        changed: dict[str, object] = {}
        for name in CASE_FIELDS:
            if name in fields and getattr(case, name) != fields[name]:
                changed[name] = (
                    {"from": getattr(case, name), "to": fields[name]} if name == "status" else True
                )
                setattr(case, name, fields[name])
        case.save()
        if artists is not None:
            case.artists.set([a for a in artists if a.agency_id == case.agency_id])
            changed["artists"] = sorted(a.pk for a in case.artists.all())
        if changed:
            action = "case.status_changed" if list(changed) == ["status"] else "case.updated"
            audit_record(agency=case.agency, actor=actor, action=action, obj=case, data=changed)
    return case


def _case_artists_from_findings(*, case: Case, actor: User, findings: list[Finding]) -> None:
    """A linked finding's artists join the case's (never removed on unlink: a person may
    have chosen them), with an audit event naming those added."""
    if not findings:
        return
    new = list(
        Artist.objects.filter(agency=case.agency, findings__in=findings)
        .exclude(cases=case)
        .distinct()
        .order_by("stage_name", "pk")
    )
    if not new:
        return
    case.artists.add(*new)
    audit_record(
        agency=case.agency,
        actor=actor,
        action="case.artists_added",
        obj=case,
        data={"artists": [a.pk for a in new], "names": [a.stage_name for a in new]},
    )


def case_link_findings(
    *, case: Case, actor: User, findings: Iterable[Finding], unlink: bool = False
) -> int:
    """Add (or remove) findings of the case's own agency; returns how many changed."""
    finding_list = [f for f in findings if f.agency_id == case.agency_id]
    with transaction.atomic():
        current = set(case.findings.values_list("pk", flat=True))
        if unlink:
            targets = [f for f in finding_list if f.pk in current]
            case.findings.remove(*targets)
        else:
            targets = [f for f in finding_list if f.pk not in current]
            case.findings.add(*targets)
            _case_artists_from_findings(case=case, actor=actor, findings=targets)
        if targets:
            audit_record(
                agency=case.agency,
                actor=actor,
                action="case.findings_unlinked" if unlink else "case.findings_linked",
                obj=case,
                data={"findings": [f.pk for f in targets]},
            )
    return len(targets)


def case_deadline_add(*, case: Case, actor: User, title: str, due_on: date) -> CaseDeadline:
    with transaction.atomic():
        deadline = CaseDeadline.objects.create(case=case, title=title, due_on=due_on)
        audit_record(
            agency=case.agency,
            actor=actor,
            action="case.deadline_added",
            obj=case,
            data={"title": title, "due_on": due_on.isoformat()},
        )
    return deadline


def case_deadline_done(*, deadline: CaseDeadline, actor: User) -> CaseDeadline:
    with transaction.atomic():
        deadline.done = True
        deadline.save(update_fields=["done"])
        audit_record(
            agency=deadline.case.agency,
            actor=actor,
            action="case.deadline_done",
            obj=deadline.case,
            data={"title": deadline.title},
        )
    return deadline
