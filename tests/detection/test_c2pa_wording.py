"""What the product says about a C2PA manifest depends on WHICH validation failed: content
altered after signing, a broken claim signature, a signer off the trust list, an untrusted
identity credential (CAWG), or no manifest at all. Each statement is checked against the
contrary case built here from the c2pa-python fixture C.jpg (MIT, tests/data)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from detection.provenance import Signal, provenance_signals
from tests.data_path import data_file
from tests.detection import workflow_fixtures
from tests.detection.detection_samples import c2pa_signed_jpeg
from tests.detection.workflow_fixtures import ingest

C2PA_DATA = data_file("provenance", "c2pa")
SIGNER = "C2PA Signer"  # the common name in C.jpg's signing certificate


def c_jpg() -> bytes:
    return (C2PA_DATA / "C.jpg").read_bytes()


def with_altered_pixels(data: bytes) -> bytes:
    """Flip bytes near the end of the JPEG scan: the pixels change, the manifest does not."""
    altered = bytearray(data)
    for offset in range(len(data) - 400, len(data) - 380):
        altered[offset] ^= 0x5A
    return bytes(altered)


def with_broken_signature(data: bytes) -> bytes:
    """Flip one bit inside the COSE signature of C.jpg's claim signature box (the last
    'c2pa.signature' box; its signature bytes lie about 6.5-7 KB after the label)."""
    label = data.rfind(b"c2pa.signature")
    assert label > 0
    broken = bytearray(data)
    broken[label + 6700] ^= 0x01
    return bytes(broken)


def c2pa_signal(data: bytes, **kwargs: Any) -> Signal:
    signals = [s for s in provenance_signals(data, "image/jpeg", **kwargs) if s.kind == "c2pa"]
    assert len(signals) == 1
    return signals[0]


def test_altered_pixels_are_reported_as_altered_content_not_as_a_broken_signature() -> None:
    signal = c2pa_signal(with_altered_pixels(c_jpg()))
    assert "assertion.dataHash.mismatch" in signal.details["validation_failures"]
    assert "content_altered" in signal.details["failure_categories"]
    assert "altered after signing" in signal.summary
    assert "claim signature is broken" not in signal.summary
    # The signature itself still holds, so its signer may be named (and is untrusted here).
    assert signal.details["signature_valid"] is True
    assert SIGNER in signal.details["signer"] and SIGNER in signal.summary
    assert signal.strength == "weak"


def test_a_broken_signature_is_reported_as_such_and_names_no_signer() -> None:
    signal = c2pa_signal(with_broken_signature(c_jpg()))
    assert "claimSignature.mismatch" in signal.details["validation_failures"]
    assert signal.details["failure_categories"][0] == "signature_invalid"
    assert "claim signature is broken" in signal.summary
    assert "altered after signing" not in signal.summary
    assert signal.details["signature_valid"] is False
    assert signal.details["signer"] == "" and signal.details["signed_at"] == ""
    assert SIGNER not in signal.summary
    # An untrusted certificate on a broken signature is not worth a sentence of its own.
    assert "not on the configured trust list" not in signal.summary
    assert signal.strength == "weak"


def test_the_two_tamperings_get_different_sentences() -> None:
    altered = c2pa_signal(with_altered_pixels(c_jpg())).summary
    broken = c2pa_signal(with_broken_signature(c_jpg())).summary
    assert altered != broken


def test_an_intact_file_from_an_untrusted_signer_names_the_signer_and_says_untrusted() -> None:
    signal = c2pa_signal(c_jpg())
    assert signal.details["failure_categories"] == ["signer_untrusted"]
    assert "is not on the configured trust list" in signal.summary
    assert SIGNER in signal.summary
    assert "altered" not in signal.summary and "broken" not in signal.summary


def test_a_trusted_signer_is_named_as_trusted() -> None:
    data, ca_pem = c2pa_signed_jpeg("trainedAlgorithmicMedia")
    signal = c2pa_signal(data, trust_anchors_pem=ca_pem)
    assert signal.details["failure_categories"] == []
    assert signal.details["trusted"] is True
    assert "Test Signer" in signal.summary
    assert "is on the configured trust list" in signal.summary
    assert signal.strength == "strong"


def _with_extra_failure(monkeypatch: pytest.MonkeyPatch, failure: dict[str, str]) -> None:
    """Make the reader report one more failure of the active manifest, as c2pa-rs does for
    a CAWG identity assertion whose X.509 credential is not on the identity trust list (it
    reuses the C2PA certificate check, so the code is signingCredential.untrusted and only
    the URL tells it is about the identity assertion)."""
    import c2pa

    original = c2pa.Reader.json

    def json_with_failure(self: Any) -> str:
        store = json.loads(original(self))
        store.setdefault("validation_status", []).append(failure)
        results = store.setdefault("validation_results", {}).setdefault("activeManifest", {})
        results.setdefault("failure", []).append(failure)
        return json.dumps(store)

    monkeypatch.setattr(c2pa.Reader, "json", json_with_failure)


def test_an_untrusted_identity_credential_is_not_reported_as_an_untrusted_signer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, ca_pem = c2pa_signed_jpeg("digitalCapture")
    _with_extra_failure(
        monkeypatch,
        {
            "code": "signingCredential.untrusted",
            "url": "self#jumbf=/c2pa/urn:c2pa:test/c2pa.assertions/cawg.identity",
            "explanation": "signing certificate untrusted",
        },
    )
    signal = c2pa_signal(data, trust_anchors_pem=ca_pem)
    assert signal.details["failure_categories"] == ["identity_untrusted"]
    assert "not on the configured trust list" not in signal.summary
    assert "is on the configured trust list" in signal.summary  # the claim signer is trusted
    assert "identity assertion" in signal.summary and "not verified" in signal.summary
    assert signal.details["signer_untrusted"] is False


def test_a_cawg_code_is_an_identity_failure_and_an_unknown_code_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, ca_pem = c2pa_signed_jpeg("digitalCapture")
    _with_extra_failure(monkeypatch, {"code": "cawg.identity.cbor.invalid", "url": "x"})
    signal = c2pa_signal(data, trust_anchors_pem=ca_pem)
    assert signal.details["failure_categories"] == ["other"]
    assert "Other validation failure: cawg.identity.cbor.invalid." in signal.summary


def test_no_manifest_is_stated_only_when_the_reader_parsed_the_file() -> None:
    from detection.provenance import c2pa_manifest_absent

    assert c2pa_manifest_absent((C2PA_DATA / "A.jpg").read_bytes(), "image/jpeg", []) is True
    data = c_jpg()
    assert c2pa_manifest_absent(data, "image/jpeg", provenance_signals(data, "image/jpeg")) is False
    # Unparseable or unsupported: nothing can be said either way.
    assert c2pa_manifest_absent(b"not an image", "image/png", []) is False
    assert c2pa_manifest_absent(b"BM" + b"\0" * 60, "image/bmp", []) is False


def test_the_remote_manifest_fixture_is_still_reported() -> None:
    signals = provenance_signals((C2PA_DATA / "cloud.jpg").read_bytes(), "image/jpeg")
    assert [s.kind for s in signals] == ["c2pa"]
    assert "were not fetched" in signals[0].summary


def test_statements_round_trip_through_json() -> None:
    signal = c2pa_signal(with_altered_pixels(c_jpg()))
    again = Signal.from_dict(json.loads(json.dumps(signal.to_dict())))
    assert again == signal


# --- what the evidence page and the dossier show -------------------------------------------


# Until the lead wires detection.urls into the root URLconf, the tests add it (autouse).
detection_urls = workflow_fixtures.detection_urls


def _panel(
    client: Any,
    agency: Any,
    finding: Any,
    bob: Any,
    data: bytes,
    capture: Any,
    language: str = "en",
) -> str:
    with capture(execute=True):
        evidence = ingest(agency, data, actor=bob, finding=finding, name="item.jpg")
    client.force_login(bob)
    url = reverse("evidence_detection", args=[evidence.pk])
    return client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()


@pytest.mark.django_db
def test_the_evidence_panel_lists_the_failure_codes_with_their_meaning(
    client: Any,
    agency: Any,
    finding: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = _panel(
        client,
        agency,
        finding,
        bob,
        with_altered_pixels(c_jpg()),
        django_capture_on_commit_callbacks,
    )
    assert "data-c2pa-failures" in page
    assert "<code>assertion.dataHash.mismatch</code> — content altered after signing" in page
    assert "<code>signingCredential.untrusted</code> — signer not on the trust list" in page
    assert "claimSignature.mismatch" not in page
    assert "data-no-c2pa-manifest" not in page


@pytest.mark.django_db
def test_the_evidence_panel_says_no_manifest_only_for_a_file_without_one(
    client: Any,
    agency: Any,
    finding: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    capture = django_capture_on_commit_callbacks
    without = _panel(client, agency, finding, bob, (C2PA_DATA / "A.jpg").read_bytes(), capture)
    assert "no manifest in this file" in without
    with_manifest = _panel(client, agency, finding, bob, c_jpg(), capture)
    assert "no manifest in this file" not in with_manifest
    assert "<code>signingCredential.untrusted</code>" in with_manifest


@pytest.mark.django_db
def test_the_korean_panel_words_the_failure_in_korean(
    client: Any,
    agency: Any,
    finding: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = _panel(
        client,
        agency,
        finding,
        bob,
        with_broken_signature(c_jpg()),
        django_capture_on_commit_callbacks,
        language="ko",
    )
    assert "claimSignature.mismatch" in page
    assert "서명" in page and "claim signature is broken" not in page
