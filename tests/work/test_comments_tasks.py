"""Comments with @mentions, tasks with assignees, "my work" and notifications. Alice is an
admin and Bob legal staff of Aurora, Carol a viewer there; Mallory belongs to Nebula."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.kernel.models import AuditEvent
from cases.legal.services.legal_cases import case_create, case_deadline_add
from cases.work.models import Comment, Notification, NotificationKind, Task
from cases.work.services.comments import comment_add, mention_names


@pytest.fixture
def case(agency, bob, finding):  # type: ignore[no-untyped-def]
    return case_create(agency=agency, actor=bob, title="Deepfake ring", findings=[finding])


def test_mention_names_skip_email_addresses():
    assert mention_names("@alice and bob@example.com, @carol.") == ["alice", "carol"]


def test_a_comment_mentions_only_members_of_the_same_agency(
    client, agency, alice, bob, carol, mallory, case
):
    client.force_login(bob)
    response = client.post(
        reverse("case_comment_add", args=[case.pk]),
        {"body": "@carol please check; @mallory <b>hi</b>"},
    )
    assert response.status_code == 302
    comment = Comment.objects.get()
    assert list(comment.mentions.all()) == [carol]
    assert comment.case == case and comment.author == bob
    # Carol is told; Mallory (another agency) is not, and her name stays plain text.
    assert Notification.objects.filter(user=carol, kind=NotificationKind.MENTION).count() == 1
    assert not Notification.objects.filter(user=mallory).exists()
    event = AuditEvent.objects.get(action="comment.added")
    assert event.data == {"comment": comment.pk, "mentions": [carol.pk]}
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert '<span class="mention">@carol</span>' in content
    assert '<span class="mention">@mallory</span>' not in content
    assert "@mallory &lt;b&gt;hi&lt;/b&gt;" in content


def test_a_comment_on_a_finding_shows_on_the_finding_and_its_case(
    client, bob, carol, case, finding
):
    comment_add(author=bob, body="Same uploader as last week, @carol", finding=finding)
    client.force_login(carol)
    finding_page = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert "Same uploader as last week" in finding_page
    assert '<span class="mention">@carol</span>' in finding_page
    case_page = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "Same uploader as last week" in case_page


def test_an_outsider_cannot_comment_or_add_tasks(client, mallory, case, finding):
    client.force_login(mallory)
    for name, pk in (
        ("case_comment_add", case.pk),
        ("finding_comment_add", finding.pk),
        ("case_task_add", case.pk),
        ("finding_task_add", finding.pk),
    ):
        response = client.post(reverse(name, args=[pk]), {"body": "x", "title": "x"})
        assert response.status_code == 404, name
    assert not Comment.objects.exists()
    assert not Task.objects.exists()


def test_a_viewer_cannot_comment(client, carol, case):
    client.force_login(carol)
    response = client.post(reverse("case_comment_add", args=[case.pk]), {"body": "hello"})
    assert response.status_code == 403
    assert not Comment.objects.exists()


def test_a_task_goes_to_a_colleague_who_can_write(client, alice, bob, carol, mallory, case):
    client.force_login(bob)
    url = reverse("case_task_add", args=[case.pk])
    due = timezone.localdate() + timedelta(days=2)
    # A viewer and an outsider are not offered and are refused.
    page = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert f'<option value="{alice.pk}">alice</option>' in page
    assert f'<option value="{carol.pk}">' not in page
    for person in (carol, mallory):
        client.post(url, {"title": "Draft the complaint", "assignee": person.pk})
    assert not Task.objects.exists()
    client.post(
        url, {"title": "Draft the complaint", "due_on": due.isoformat(), "assignee": alice.pk}
    )
    task = Task.objects.get()
    assert (task.assignee, task.due_on, task.case) == (alice, due, case)
    assert Notification.objects.get(user=alice).kind == NotificationKind.ASSIGNED
    assert AuditEvent.objects.filter(action="task.added").count() == 1
    # Alice sees it in "my work", marks it done.
    client.force_login(alice)
    work = client.get(reverse("my_work")).content.decode()
    assert "Draft the complaint" in work
    client.post(reverse("task_done", args=[task.pk]))
    task.refresh_from_db()
    assert task.done
    assert "Draft the complaint" not in client.get(reverse("my_work")).content.decode()
    assert "Task done" in client.get(reverse("case_detail", args=[case.pk])).content.decode()


def test_an_outsider_cannot_close_a_task(client, alice, bob, mallory, case):
    client.force_login(bob)
    client.post(reverse("case_task_add", args=[case.pk]), {"title": "T", "assignee": alice.pk})
    task = Task.objects.get()
    client.force_login(mallory)
    assert client.post(reverse("task_done", args=[task.pk])).status_code == 404
    task.refresh_from_db()
    assert not task.done


def test_my_work_lists_my_findings_and_this_weeks_deadlines(client, agency, bob, case, finding):
    finding.assignee = bob
    finding.save(update_fields=["assignee"])
    today = timezone.localdate()
    case_deadline_add(
        case=case, actor=bob, title="File the report", due_on=today + timedelta(days=3)
    )
    case_deadline_add(case=case, actor=bob, title="Next month", due_on=today + timedelta(days=30))
    client.force_login(bob)
    content = client.get(reverse("my_work")).content.decode()
    assert finding.canonical_url in content
    assert "File the report" in content
    assert "Next month" not in content
    assert reverse("my_work") in content  # linked from the sidebar


def test_notifications_are_counted_listed_and_marked_read(client, alice, bob, mallory, case):
    comment_add(author=bob, body="@alice look", case=case)
    comment_add(author=bob, body="@alice again", case=case)
    client.force_login(alice)
    page = client.get(reverse("notification_list")).content.decode()
    assert "look" in page and "again" in page
    assert "2 new notifications" in client.get(reverse("notification_bell")).content.decode()
    first = Notification.objects.filter(user=alice).order_by("pk").first()
    client.post(reverse("notification_read"), {"ids": str(first.pk)})
    assert Notification.objects.filter(user=alice, read_at__isnull=True).count() == 1
    # Mallory cannot mark Alice's notifications read.
    client.force_login(mallory)
    client.post(reverse("notification_read"), {"ids": str(first.pk + 1)})
    assert Notification.objects.filter(user=alice, read_at__isnull=True).count() == 1
    assert "look" not in client.get(reverse("notification_list")).content.decode()
    client.force_login(alice)
    client.post(reverse("notification_read"))
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()
    assert "0 new notifications" in client.get(reverse("notification_bell")).content.decode()


def test_the_bell_never_claims_more_than_it_counted(client, agency, alice, bob, case):
    for n in range(100):
        comment_add(author=bob, body=f"@alice {n}", case=case)
    client.force_login(alice)
    bell = client.get(reverse("notification_bell")).content.decode()
    assert "More than 99 new notifications" in bell
    Notification.objects.filter(pk=Notification.objects.order_by("pk").first().pk).update(
        read_at=timezone.now()
    )
    assert "99 new notifications" in client.get(reverse("notification_bell")).content.decode()
    assert "More than" not in client.get(reverse("notification_bell")).content.decode()
