"""Labels kept per language (cases/kernel/per_language.py): built once per language, never
shown in another language than the active one."""

from __future__ import annotations

from django.test import Client
from django.utils import translation

from cases.intake.models import FindingStatus
from cases.kernel.per_language import choice_pairs, per_language


def test_each_language_gets_its_own_value_built_once():
    calls = []

    @per_language
    def labels() -> tuple[tuple[str, str], ...]:
        calls.append(translation.get_language())
        return choice_pairs(FindingStatus.choices)

    with translation.override("en"):
        english = labels()
        assert labels() is english
    with translation.override("ko"):
        korean = labels()
    assert calls == ["en", "ko"]
    assert dict(english)["new"] == "New" and dict(korean)["new"] != "New"


def test_the_queue_shows_its_labels_in_the_language_of_each_request(client: Client, bob, finding):
    client.force_login(bob)
    english = client.get("/findings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    korean = client.get("/findings/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    again = client.get("/findings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    with translation.override("ko"):
        new_ko = str(FindingStatus.NEW.label)
        oldest_ko = translation.gettext("Oldest first")
    assert ">New</span>" in english and f">{new_ko}</span>" in korean
    assert "Oldest first" in english and oldest_ko in korean and "Oldest first" not in korean
    assert ">New</span>" in again
