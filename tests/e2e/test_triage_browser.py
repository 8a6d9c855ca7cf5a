"""The triage queue as a legal assistant uses it, in real Chromium: filters kept in a saved
view; the side preview with its blurred thumbnail and the audited reveal; the keyboard; and
"my work" with her findings, tasks and notices due."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.evidence.models import CustodyEvent, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.models import Finding
from cases.intake.services.findings import finding_set_status
from cases.kernel.widgets import FILTER_FROM
from cases.notices.models import Notice, NoticeStatus
from cases.notices.services.drafts import notice_create
from cases.work.models import DigestSubscription
from cases.work.services.tasks import task_add
from tests.e2e.test_accessibility import _axe_source, _violations
from tests.e2e.test_browser import _log_in, browser, page  # noqa: F401 - fixtures
from tests.evidence.samples import png_bytes
from tests.factories import ArtistFactory, make_finding

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shown_ids(tab) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        int(pk)
        for pk in tab.locator("[data-triage-table] tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.findingId)"
        )
    ]


def test_a_saved_view_brings_back_the_same_filtered_rows(
    page,  # noqa: F811
    agency,
    bob,
) -> None:
    findings = [
        make_finding(agency, f"https://www.youtube.com/watch?v=view-{n}", actor=bob)
        for n in range(5)
    ]
    for finding in findings[:2]:
        finding_set_status(finding=finding, status="triaged", actor=bob)
    triaged = sorted(f.pk for f in findings[:2])

    _log_in(page, "bob")
    page.goto("/findings/")
    assert len(_shown_ids(page)) == 5
    page.select_option("#filter-status", "triaged")
    page.wait_for_url(re.compile(r"status=triaged"))
    page.wait_for_function("document.querySelectorAll('[data-triage-table] tbody tr').length === 2")
    assert sorted(_shown_ids(page)) == triaged

    page.fill("#saved-view-name", "Triaged only")
    page.get_by_role("button", name="Save view").click()
    page.wait_for_load_state()
    assert "Triaged only" in page.locator(".saved-view-list").inner_text()

    page.goto("/findings/")  # a fresh, unfiltered queue
    assert len(_shown_ids(page)) == 5
    page.get_by_role("link", name="Triaged only").click()
    page.wait_for_url(re.compile(r"status=triaged"))
    assert sorted(_shown_ids(page)) == triaged
    assert page.locator("#filter-status").input_value() == "triaged"


def test_the_preview_panel_blurs_the_thumbnail_and_the_reveal_is_recorded(
    page,  # noqa: F811
    agency,
    bob,
    finding,
) -> None:
    make_finding(agency, "https://www.youtube.com/watch?v=no-media", actor=bob)
    item, _created = evidence_ingest(
        agency=agency,
        data=png_bytes((320, 240), seed=5),
        kind=EvidenceKind.UPLOAD,
        collected_by=bob,
        finding=finding,
        original_name="explicit.png",
    )
    assert item.explicit  # media is presumed explicit until someone says otherwise

    _log_in(page, "bob")
    page.goto("/findings/")
    panel = page.locator("#finding-preview")
    assert "Select a row" in panel.inner_text()

    # The keyboard: "?" lists the shortcuts, Esc closes the list.
    page.keyboard.press("?")
    assert page.locator("#shortcut-help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#shortcut-help").is_visible()

    # j moves to the rows, p previews: the older finding (with the image) is the second row.
    page.keyboard.press("j")
    page.keyboard.press("j")
    # An unrelated htmx swap in between (the notification bell, loaded after the page, can
    # land here on a slow server) keeps the place.
    page.eval_on_selector(
        ".notification-bell",
        "bell => bell.dispatchEvent(new CustomEvent('htmx:afterSwap',"
        " {bubbles: true, detail: {target: bell}}))",
    )
    page.keyboard.press("p")
    thumbnail = panel.get_by_role("img", name=f"Blurred preview of evidence #{item.pk}")
    thumbnail.wait_for()
    src = thumbnail.get_attribute("src") or ""
    assert src.endswith(f"/evidence/{item.pk}/preview/") and "reveal" not in src
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )
    assert finding.canonical_url in panel.inner_text()
    assert "Not captured yet" in panel.inner_text()
    assert _violations(page, _axe_source()) == []

    # A click on a row's cell previews that row; Esc empties the panel.
    page.locator(f"tr[data-finding-id='{finding.pk + 1}'] td.num").click()
    panel.get_by_text("No image evidence yet.").wait_for()
    page.keyboard.press("Escape")
    panel.get_by_text("Select a row").wait_for()

    # Back to the image, and reveal it: the evidence page's audited flow.
    page.locator(f"tr[data-finding-id='{finding.pk}'] td.num").click()
    thumbnail.wait_for()
    panel.locator("#preview-reveal-reason").fill("checking the face")
    panel.get_by_label("I understand and want to see this item unblurred.").check()
    panel.get_by_role("button", name="Reveal").click()
    page.wait_for_url(re.compile(rf"/evidence/{item.pk}/\?reveal="))
    assert page.get_by_role("img", name="Unblurred preview").is_visible()
    revealed = CustodyEvent.objects.get(evidence=item, action="revealed")
    assert revealed.actor == bob and revealed.reason == "checking the face"


def test_my_work_lists_my_findings_tasks_and_notices_due(
    page,  # noqa: F811
    agency,
    bob,
    alice,
    finding,
) -> None:
    Finding.objects.filter(pk=finding.pk).update(assignee=bob)
    make_finding(agency, "https://www.youtube.com/watch?v=someone-elses", actor=bob)
    task_add(
        actor=alice,
        title="Check the mirror uploads",
        assignee=bob,
        finding=finding,
        due_on=timezone.localdate() + timedelta(days=1),
    )
    notice = notice_create(
        agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy"
    )
    Notice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.SENT,
        rendered_sha256="0" * 64,
        sent_at=timezone.now(),
        due_at=timezone.now() + timedelta(days=2),
        assignee=bob,
    )

    _log_in(page, "bob")
    page.get_by_role("link", name="My work").click()
    page.wait_for_url("**/work/")
    findings = page.locator("#my-findings").inner_text()
    assert finding.canonical_url in findings
    assert "someone-elses" not in findings
    assert "Check the mirror uploads" in page.locator("#my-tasks").inner_text()
    assert f"Notice #{notice.pk} to YouTube" in page.locator("#my-notices").inner_text()

    # The daily digest is opt-in, from the same page.
    page.get_by_label("E-mail me a daily digest").check()
    page.get_by_label("Language of the digest").select_option("ko")
    page.locator("#my-digest").get_by_role("button", name="Save").click()
    page.get_by_text("You will receive a daily digest by e-mail.").wait_for()
    subscription = DigestSubscription.objects.get(user=bob)
    assert subscription.enabled and subscription.language == "ko"


def test_a_long_checkbox_list_filters_and_ticks_from_the_keyboard(
    page,  # noqa: F811
    agency,
    bob,
    artist,
) -> None:
    for n in range(FILTER_FROM):
        ArtistFactory(agency=agency, stage_name=f"Backup dancer {n}")

    _log_in(page, "bob")
    page.goto("/findings/new/")
    group = page.get_by_role("group", name="Artists depicted")
    assert group.locator("input[type=checkbox]").count() == FILTER_FROM + 1
    page.get_by_label("Filter the list").fill("yuna")
    visible = group.locator("input[type=checkbox]:visible")
    assert visible.count() == 1
    visible.focus()
    page.keyboard.press("Space")
    page.get_by_label("Filter the list").fill("")
    assert group.locator("input[type=checkbox]:visible").count() == FILTER_FROM + 1
    page.fill("input[name=url]", "https://www.youtube.com/watch?v=keyboard-pick")
    page.get_by_role("button", name="Record finding").click()
    page.wait_for_url(re.compile(r"/findings/\d+/$"))
    recorded = Finding.objects.get(canonical_url__contains="keyboard-pick")
    assert list(recorded.artists.values_list("pk", flat=True)) == [artist.pk]
