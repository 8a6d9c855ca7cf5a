"""URLs of notices, signer profiles, notice templates and webhooks. Object URLs take a
numeric id that a selector checks against the user's agency."""

from __future__ import annotations

from django.urls import path

from cases.notices.views import notices

urlpatterns = [
    path("notices/", notices.notice_list, name="notice_list"),
    path("notices/new/", notices.notice_create, name="notice_create"),
    path("notices/signer/", notices.signer_profile, name="signer_profile"),
    path("notices/templates/", notices.notice_template_list, name="notice_template_list"),
    path("notices/templates/edit/", notices.notice_template_edit, name="notice_template_edit"),
    path("notices/<int:pk>/", notices.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/edit/", notices.notice_update, name="notice_update"),
    path("notices/<int:pk>/send/", notices.notice_send, name="notice_send"),
    path("notices/<int:pk>/status/", notices.notice_status, name="notice_status"),
    path("notices/<int:pk>/checklist/", notices.notice_checklist, name="notice_checklist"),
    path("notices/<int:pk>/submission/", notices.notice_submission, name="notice_submission"),
    path("notices/<int:pk>/download/", notices.notice_download, name="notice_download"),
    path("webhooks/", notices.webhook_list, name="webhook_list"),
    path("webhooks/new/", notices.webhook_create, name="webhook_create"),
    path("webhooks/<int:pk>/edit/", notices.webhook_update, name="webhook_update"),
]
