"""Who can remove it: RDAP lookups of the registrar's and the hosting network's abuse
contacts (cases.agency.rdap), against a local RDAP fixture server (tests/cases/rdap_server.py)
through the safe fetcher with the test-only loopback switch. DNS is played by the test, and
every address the fetcher dials is recorded."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from cases.agency.models import AbuseLookup, AbuseLookupState, Platform
from cases.agency.rdap.bootstrap import BUNDLED_DIR, BootstrapError, bootstrap_load, bootstrap_parse
from cases.agency.rdap.cdn import cdn_recognise
from cases.agency.rdap.client import Transport, rdap_policy
from cases.agency.selectors import abuse_recipients_for
from cases.agency.services import abuse_lookups
from cases.agency.services.abuse_lookups import (
    AbuseLookupRetry,
    abuse_lookup_request,
    abuse_lookup_run,
)
from cases.kernel.models import AuditEvent
from cases.kernel.times import agency_zone
from cases.notices.services.drafts import notice_create, notice_recipient
from cases.notices.services.errors import NoticeError
from tests.cases.rdap_server import (
    CLOUDFLARE_ABUSE,
    NETWORK_ABUSE,
    REGISTRAR_ABUSE,
    REGISTRY_ABUSE,
    FakeDns,
    RdapServer,
    RecordingConnector,
    rdap_server,
)
from tests.factories import make_finding


@pytest.fixture
def rdap(settings: Any, tmp_path: Path) -> Iterator[RdapServer]:
    with rdap_server() as server:
        server.write_bootstrap(tmp_path / "rdap")
        settings.RDAP_BOOTSTRAP_DIR = tmp_path / "rdap"
        settings.RDAP_ALLOWED_PORTS = [server.port]
        settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True  # the test-only switch
        yield server


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch, rdap: RdapServer) -> RecordingConnector:
    """Every lookup (also the ones the task runs) goes over the recording connector, with
    the test's DNS answers."""
    connector = RecordingConnector()
    dns = FakeDns()
    real = abuse_lookups.abuse_lookup_transport

    def transport() -> Transport:
        return Transport(policy=real().policy, resolver=dns, connector=connector)

    monkeypatch.setattr(abuse_lookups, "abuse_lookup_transport", transport)
    return connector


def _look_up(
    agency: Any, host: str, actor: Any, capture: Any, *, force: bool = False
) -> AbuseLookup:
    """Request a lookup as the finding page does; the task runs inline after commit."""
    with capture(execute=True):
        lookup, _queued = abuse_lookup_request(agency=agency, host=host, actor=actor, force=force)
    lookup.refresh_from_db()
    return lookup


def _never_private(connector: RecordingConnector) -> None:
    assert connector.dialled, "the test should have made requests"
    for ip in connector.dialled:
        assert ipaddress.ip_address(ip).is_loopback, f"dialled {ip}"


# --- the lookups -------------------------------------------------------------------------


def test_domain_and_ip_lookups_give_registrar_and_network_abuse_contacts(
    agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    lookup = _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks)

    assert lookup.looked_up_at is not None
    assert lookup.registrar_state == AbuseLookupState.FOUND
    # From the registrar's own RDAP record (the registry's "related" link).
    assert lookup.registrar_email == REGISTRAR_ABUSE
    assert lookup.registrar_phone == "+1.5555550100"
    assert lookup.registrar_name == "Example Registrar, Inc."
    assert lookup.registrar_handle == "9999"
    assert lookup.registrar_source == f"{rdap.base}registrar/domain/example.com"
    assert lookup.network_state == AbuseLookupState.FOUND
    assert lookup.network_address == "93.184.216.34"
    # The abuse entity was given by handle only: its vCard came from the entity lookup.
    assert lookup.network_email == NETWORK_ABUSE
    assert lookup.network_name == "Example Hosting Ltd / EXAMPLE-NET"
    assert lookup.network_source == f"{rdap.base}rir/entity/ABUSE1-TEST"
    assert lookup.cdn == ""
    assert "/registry/domain/example.com" in rdap.hits
    assert "/rir/ip/93.184.216.34" in rdap.hits
    _never_private(wire)


def test_the_registry_contact_is_used_when_no_registrar_record_is_linked(
    agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    lookup = _look_up(agency, "fronted.com", bob, django_capture_on_commit_callbacks)
    assert lookup.registrar_state == AbuseLookupState.FOUND
    assert lookup.registrar_email == REGISTRY_ABUSE
    assert lookup.registrar_source == f"{rdap.base}registry/domain/fronted.com"


def test_a_cdn_fronted_host_is_marked_with_its_abuse_process(
    client, agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    finding = make_finding(agency, "https://fronted.com/v/1", actor=bob)
    lookup = _look_up(agency, "fronted.com", bob, django_capture_on_commit_callbacks)
    assert lookup.cdn == "cloudflare"
    assert lookup.network_email == CLOUDFLARE_ABUSE
    client.force_login(bob)
    page = client.get(finding.get_absolute_url()).content.decode()
    assert 'data-abuse-cdn="cloudflare"' in page
    assert "Cloudflare (CDN, abuse process:" in page
    assert "https://abuse.cloudflare.com/" in page
    # A host that is not fronted says nothing about a CDN.
    other = make_finding(agency, "https://www.example.com/v/2", actor=bob)
    _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks)
    assert "data-abuse-cdn" not in client.get(other.get_absolute_url()).content.decode()


def test_cdns_are_recognised_by_range_and_by_network_name():
    assert cdn_recognise(address="104.16.1.1", names=[]).key == "cloudflare"  # type: ignore[union-attr]
    assert cdn_recognise(address="2606:4700::1", names=[]).key == "cloudflare"  # type: ignore[union-attr]
    assert cdn_recognise(address="151.101.1.1", names=[]).key == "fastly"  # type: ignore[union-attr]
    assert (
        cdn_recognise(address="23.1.1.1", names=["AKAMAI", "Akamai Technologies, Inc."]).key
        == "akamai"
    )  # type: ignore[union-attr]
    assert cdn_recognise(address="13.1.1.1", names=["AMAZON-CF"]).key == "cloudfront"  # type: ignore[union-attr]
    assert cdn_recognise(address="93.184.216.34", names=["EXAMPLE-NET", "Example Hosting"]) is None


def test_a_private_address_is_never_reached(
    agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    # The bootstrap sends .test to http://10.1.2.3/: refused before any connection.
    evil = _look_up(agency, "evil.test", bob, django_capture_on_commit_callbacks)
    assert evil.registrar_state == AbuseLookupState.FAILED
    assert "10.1.2.3" in evil.registrar_error
    assert "private" in evil.registrar_error
    # The registry redirects to the cloud metadata address: the redirect is refused.
    redirected = _look_up(agency, "redirect.com", bob, django_capture_on_commit_callbacks)
    assert redirected.registrar_state == AbuseLookupState.FAILED
    assert "169.254.169.254" in redirected.registrar_error
    # The host resolves into our own network: no network lookup at all (the RIR of the
    # fixture would answer for 10/8, and is never asked).
    internal = _look_up(agency, "internal.com", bob, django_capture_on_commit_callbacks)
    assert internal.network_state == AbuseLookupState.NOT_APPLICABLE
    assert "10.0.0.5" in internal.network_error
    assert not [hit for hit in rdap.hits if "/ip/10." in hit]
    _never_private(wire)


def test_failures_are_recorded_and_shown_as_failures(client, agency, bob, rdap, wire):
    finding = make_finding(agency, "https://broken.com/x", actor=bob)
    queued, _ = abuse_lookup_request(agency=agency, host="broken.com", actor=bob)
    # The task's last try (a server error is retried first: the test below).
    lookup = abuse_lookup_run(lookup_id=queued.pk, final=True)
    assert lookup is not None
    assert lookup.registrar_state == AbuseLookupState.FAILED
    assert "HTTP 500" in lookup.registrar_error
    client.force_login(bob)
    page = client.get(finding.get_absolute_url()).content.decode()
    assert 'data-abuse-part="registrar" data-abuse-state="failed"' in page
    assert "lookup failed" in page
    assert "HTTP 500" in page


def test_a_tld_without_an_rdap_server_is_a_failure_with_its_reason(agency, bob, rdap, wire):
    lookup = AbuseLookup.objects.create(agency=agency, host="unknown-tld.zz")
    lookup = abuse_lookup_run(lookup_id=lookup.pk)
    assert lookup is not None
    assert lookup.registrar_state == AbuseLookupState.FAILED
    assert "No RDAP server for .zz" in lookup.registrar_error


def test_a_server_error_is_retried_before_it_is_recorded(agency, bob, rdap, wire):
    lookup = AbuseLookup.objects.create(agency=agency, host="broken.com")
    with pytest.raises(AbuseLookupRetry, match="HTTP 500"):
        abuse_lookup_run(lookup_id=lookup.pk, final=False)
    lookup.refresh_from_db()
    assert lookup.looked_up_at is None  # nothing stored until the last try
    assert abuse_lookup_run(lookup_id=lookup.pk, final=True).registrar_state == "failed"  # type: ignore[union-attr]


def test_no_published_contact_is_said_as_such(
    client, agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    finding = make_finding(agency, "https://quiet.com/x", actor=bob)
    lookup = _look_up(agency, "quiet.com", bob, django_capture_on_commit_callbacks)
    assert lookup.registrar_state == AbuseLookupState.NO_CONTACT
    assert lookup.network_state == AbuseLookupState.NO_CONTACT
    client.force_login(bob)
    page = client.get(finding.get_absolute_url()).content.decode()
    assert page.count("no abuse contact published") == 2


def test_the_page_says_not_looked_up_yet_and_the_button_queues_a_lookup(
    client, agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    finding = make_finding(agency, "https://www.example.com/watch/1", actor=bob)
    client.force_login(bob)
    page = client.get(finding.get_absolute_url()).content.decode()
    assert 'data-abuse-state="pending"' in page
    assert "not looked up yet" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("finding_abuse_lookup", args=[finding.pk]))
    assert response.status_code == 302
    page = client.get(finding.get_absolute_url()).content.decode()
    lookup = AbuseLookup.objects.get(host="www.example.com")
    with agency_zone(agency):  # the page shows dates in the agency's zone
        today = timezone.localdate(lookup.looked_up_at).isoformat()
    assert f'registrar abuse: <span class="mono">{REGISTRAR_ABUSE}</span>' in page
    assert f"(Example Registrar, Inc., RDAP, {today})" in page
    assert NETWORK_ABUSE in page


def test_a_viewer_cannot_queue_a_lookup(client, agency, bob, carol, rdap, wire):
    finding = make_finding(agency, "https://www.example.com/watch/2", actor=bob)
    client.force_login(carol)
    assert client.post(reverse("finding_abuse_lookup", args=[finding.pk])).status_code == 403
    assert not AbuseLookup.objects.exists()


def test_a_recorded_finding_queues_the_lookup_of_its_host(
    settings, agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    settings.RDAP_LOOKUP_ON_RECORD = True
    with django_capture_on_commit_callbacks(execute=True):
        make_finding(agency, "https://www.example.com/watch/3", actor=bob)
    lookup = AbuseLookup.objects.get(agency=agency, host="www.example.com")
    assert lookup.registrar_email == REGISTRAR_ABUSE


# --- the cache ---------------------------------------------------------------------------


def test_a_fresh_lookup_is_reused_and_a_stale_one_is_done_again(
    settings, agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    first = _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks)
    hits = len(rdap.hits)
    again, queued = abuse_lookup_request(agency=agency, host="www.example.com", actor=bob)
    assert not queued
    assert len(rdap.hits) == hits
    assert again.looked_up_at == first.looked_up_at
    # Older than RDAP_LOOKUP_MAX_AGE: looked up again, with a new date.
    settings.RDAP_LOOKUP_MAX_AGE = timedelta(hours=1)
    old = timezone.now() - timedelta(hours=2)
    AbuseLookup.objects.filter(pk=first.pk).update(looked_up_at=old, requested_at=old)
    second = _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks)
    assert len(rdap.hits) > hits
    assert second.looked_up_at is not None and second.looked_up_at > old
    # "Look up again" forces a fresh one.
    hits = len(rdap.hits)
    third = _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks, force=True)
    assert len(rdap.hits) > hits
    assert third.looked_up_at is not None and third.looked_up_at >= second.looked_up_at


def test_a_redelivered_task_does_not_look_up_twice(
    agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    lookup = _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks)
    hits = len(rdap.hits)
    abuse_lookup_run(lookup_id=lookup.pk)
    assert len(rdap.hits) == hits
    assert AuditEvent.objects.filter(action="abuse_lookup.done").count() == 1


def test_lookups_are_in_the_audit_trail(
    agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    lookup = _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks)
    requested = AuditEvent.objects.get(action="abuse_lookup.requested")
    assert requested.actor_label == "bob"
    assert requested.data["host"] == "www.example.com"
    done = AuditEvent.objects.get(action="abuse_lookup.done")
    assert done.actor_label == "system"
    assert done.object_id == str(lookup.pk)
    assert done.data["registrar"] == {"state": "found", "email": REGISTRAR_ABUSE}
    assert done.data["network"]["email"] == NETWORK_ABUSE
    assert f"{rdap.base}registrar/domain/example.com" in done.data["sources"]


# --- tenancy and notices -------------------------------------------------------------------


def test_an_outsider_sees_no_lookup_of_another_agency(
    client, agency, other_agency, bob, mallory, rdap, wire, django_capture_on_commit_callbacks
):
    _look_up(agency, "www.example.com", bob, django_capture_on_commit_callbacks)
    mine = make_finding(other_agency, "https://www.example.com/nebula", actor=mallory)
    assert abuse_recipients_for(mallory, ["www.example.com"]) == []
    client.force_login(mallory)
    page = client.get(mine.get_absolute_url()).content.decode()
    assert REGISTRAR_ABUSE not in page
    assert 'data-abuse-state="pending"' in page
    response = client.get(reverse("notice_create") + f"?ids={mine.pk}")
    assert REGISTRAR_ABUSE not in response.content.decode()


def test_abuse_contacts_are_offered_as_notice_recipients(
    client, agency, bob, rdap, wire, django_capture_on_commit_callbacks
):
    Platform.objects.create(agency=agency, name="Fronted", domains=["fronted.com"])
    finding = make_finding(agency, "https://fronted.com/v/9", actor=bob)
    assert finding.platform is not None
    _look_up(agency, "fronted.com", bob, django_capture_on_commit_callbacks)
    emails = [r.email for r in abuse_recipients_for(bob, ["fronted.com"])]
    assert emails == [REGISTRY_ABUSE, CLOUDFLARE_ABUSE]
    client.force_login(bob)
    form = client.get(reverse("notice_create") + f"?ids={finding.pk}").content.decode()
    assert f'value="{CLOUDFLARE_ABUSE}"' in form
    response = client.post(
        reverse("notice_create"),
        {
            "ids": finding.pk,
            "legal_basis": "dmca_512c3",
            "language": "en",
            "recipient": CLOUDFLARE_ABUSE,
        },
    )
    assert response.status_code == 302
    notice = finding.notices.get()
    assert notice.recipient == CLOUDFLARE_ABUSE
    assert notice_recipient(notice) == CLOUDFLARE_ABUSE
    created = AuditEvent.objects.get(action="notice.created")
    assert created.data["recipient"] == CLOUDFLARE_ABUSE
    # An address that was not offered is refused by the form.
    response = client.post(
        reverse("notice_create"),
        {
            "ids": finding.pk,
            "legal_basis": "dmca_512c3",
            "language": "en",
            "recipient": "x@evil.example",
        },
    )
    assert response.status_code == 200
    assert finding.notices.count() == 1


def test_the_platform_address_stays_the_default_recipient(agency, bob, finding):
    notice = notice_create(agency=agency, actor=bob, findings=[finding], legal_basis="dmca_512c3")
    assert notice.recipient == ""
    assert notice_recipient(notice) == finding.platform.abuse_email
    with pytest.raises(NoticeError):
        notice_create(
            agency=agency, actor=bob, findings=[finding], legal_basis="dmca_512c3", recipient="no"
        )


# --- the bootstrap files -----------------------------------------------------------------


def test_the_bundled_bootstrap_files_are_valid_and_answer_known_cases():
    bootstrap = bootstrap_load(None)
    assert bootstrap.domain_servers("www.youtube.com") == (
        "com",
        ("https://rdap.verisign.com/com/v1/",),
    )
    assert bootstrap.domain_servers("x.org")[1] == (
        "https://rdap.publicinterestregistry.org/rdap/",
    )
    assert bootstrap.ip_servers("1.1.1.1")[1] == ("https://rdap.apnic.net/",)
    assert bootstrap.ip_servers("8.8.8.8")[1][0] == "https://rdap.arin.net/registry/"
    assert bootstrap.ip_servers("93.184.216.34")[1] == ("https://rdap.db.ripe.net/",)
    assert bootstrap.ip_servers("2606:4700::1")[1][0] == "https://rdap.arin.net/registry/"
    assert bootstrap.ip_servers("2001:200::1")[1] == ("https://rdap.apnic.net/",)
    assert bootstrap.domain_servers("example.kr") == ("", ())  # not bundled: see the README
    for name in ("dns.json", "ipv4.json", "ipv6.json"):
        data = json.loads((BUNDLED_DIR / name).read_text())
        assert set(data) == {"description", "publication", "services", "version"}


def test_a_malformed_bootstrap_file_is_refused():
    with pytest.raises(BootstrapError):
        bootstrap_parse("dns", {"services": [["com", "https://x/"]], "version": "1.0"})
    with pytest.raises(BootstrapError):
        bootstrap_parse("ipv4", {"services": [[["2001::/16"], ["https://x/"]]], "version": "1.0"})
    with pytest.raises(BootstrapError):
        bootstrap_parse("dns", {"services": [[["com"], ["ftp://x/"]]], "version": "1.0"})


def test_the_refresh_command_fetches_checks_and_writes_the_files(settings, rdap, tmp_path, capsys):
    rdap.bootstrap = rdap.bootstrap_files()
    target = tmp_path / "refreshed"
    call_command("rdap_bootstrap_refresh", source=f"{rdap.base}iana/", dir=str(target))
    assert json.loads((target / "dns.json").read_text()) == rdap.bootstrap["dns.json"]
    assert "dns.json: 2 entries" in capsys.readouterr().out
    assert bootstrap_load(target).domain_servers("a.com")[1] == (f"{rdap.base}registry/",)
    # A broken file on the server: nothing is written, the command says why.
    rdap.bootstrap["ipv6.json"] = {"services": "nope", "version": "1.0"}
    (target / "dns.json").unlink()
    with pytest.raises(CommandError, match=r"ipv6\.json has no 'services'"):
        call_command("rdap_bootstrap_refresh", source=f"{rdap.base}iana/", dir=str(target))
    assert not (target / "dns.json").exists()


def test_the_refresh_command_never_fetches_from_a_private_address(tmp_path):
    with pytest.raises(CommandError, match="private"):
        call_command("rdap_bootstrap_refresh", source="http://10.0.0.1/rdap/", dir=str(tmp_path))


def test_the_rdap_policy_asks_for_rdap_json():
    policy = rdap_policy(allowed_ports=frozenset({443}), allow_loopback=False, timeout=5)
    assert ("Accept", "application/rdap+json, application/json;q=0.9") in policy.extra_headers
    assert not policy.allow_loopback
