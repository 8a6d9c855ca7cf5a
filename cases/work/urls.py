"""URLs of the work around cases and findings: timeline pages, comments, tasks, my work and
notifications."""

from __future__ import annotations

from django.urls import path

from cases.work.views import preview, work

urlpatterns = [
    path("cases/<int:pk>/timeline/", work.case_timeline_page, name="case_timeline"),
    path("cases/<int:pk>/comments/", work.case_comment_add, name="case_comment_add"),
    path("cases/<int:pk>/tasks/", work.case_task_add, name="case_task_add"),
    path("findings/<int:pk>/comments/", work.finding_comment_add, name="finding_comment_add"),
    path("findings/<int:pk>/preview/", preview.finding_preview, name="finding_preview"),
    path("findings/<int:pk>/tasks/", work.finding_task_add, name="finding_task_add"),
    path("tasks/<int:task_pk>/done/", work.task_mark_done, name="task_done"),
    path("work/", work.my_work, name="my_work"),
    path("work/digest/", work.digest_settings, name="digest_settings"),
    path("notifications/", work.notification_list, name="notification_list"),
    path("notifications/bell/", work.notification_bell, name="notification_bell"),
    path("notifications/read/", work.notification_read, name="notification_read"),
]
