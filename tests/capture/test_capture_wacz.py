"""Every capture is also stored as a WACZ that `wacz validate` accepts, holding the very
WARC stored next to it; with a signing key configured the WACZ is signed per the WACZ
signing recommendation, without one it is not and the record says so. (Every other
capture of the suite is validated too, by the autouse fixture in tests/conftest.py.)"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse

from cases.evidence.capture.wacz import WaczError, wacz_signature_verify, wacz_validate
from cases.evidence.models import Capture, CaptureStatus, Evidence
from cases.evidence.services.captures import capture_request, capture_run
from cases.evidence.services.evidence import evidence_open
from tests.capture.capture_site import site_url
from tests.factories import make_finding

pytestmark = pytest.mark.django_db


def _read(capture: Capture, kind: str) -> bytes:
    with evidence_open(Evidence.objects.get(capture=capture, kind=kind)) as handle:
        return handle.read()


def _capture(agency, bob, network, url: str) -> Capture:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, url, actor=bob)
    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )
    assert capture is not None
    return capture


def _key_file(folder: Path, name: str = "wacz-key.pem") -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path = folder / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _public_key(path: Path) -> str:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def test_a_capture_is_stored_as_a_wacz_that_the_wacz_command_validates(
    no_screenshot, agency, bob, network, site, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, site_url("/start"))

    assert capture.status == CaptureStatus.DONE, capture.error
    data = _read(capture, "wacz")
    path = tmp_path / "capture.wacz"
    path.write_bytes(data)
    # The command line of the `wacz` package, as a reader of the dossier would run it.
    result = subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the passed WACZ is valid" in result.stdout

    with zipfile.ZipFile(io.BytesIO(data)) as package:
        names = set(package.namelist())
        # The archive inside is byte for byte the WARC stored as evidence.
        assert package.read(f"archive/capture-{capture.pk}.warc.gz") == _read(capture, "warc")
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
        datapackage = package.read("datapackage.json")
        digest = json.loads(package.read("datapackage-digest.json"))
    assert {"datapackage.json", "datapackage-digest.json", "indexes/index.cdx.gz"} <= names
    assert [page["url"] for page in pages[1:]] == [site_url("/page")]
    assert digest["hash"] == "sha256:" + hashlib.sha256(datapackage).hexdigest()
    assert json.loads(datapackage)["mainPageURL"] == site_url("/page")
    # Without a key: no signature, and the record says so.
    assert "signedData" not in digest
    assert capture.details["wacz"]["signed"] is False
    assert capture.details["wacz"]["signature"] == "not signed"
    assert capture.details["wacz"]["datapackage_sha256"] == digest["hash"].removeprefix("sha256:")
    assert capture.tool_settings["wacz"]["signing"] == "not signed"


def test_a_failed_capture_gets_a_valid_wacz_without_pages(
    no_screenshot, agency, bob, network, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "http://no-such-host.test/video")

    assert capture.status == CaptureStatus.FAILED
    data = _read(capture, "wacz")
    path = tmp_path / "failed.wacz"
    path.write_bytes(data)
    wacz_validate(path)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        lines = package.read("pages/pages.jsonl").splitlines()
    assert len(lines) == 1  # the header alone: no page was captured
    assert capture.details["wacz"]["pages"] == 0


def test_with_a_signing_key_the_wacz_is_signed_and_the_signature_verifies(
    no_screenshot, agency, bob, network, site, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    key = _key_file(tmp_path)
    no_screenshot.CAPTURE_WACZ_SIGNING_KEY_FILE = str(key)

    capture = _capture(agency, bob, network, site_url("/page"))

    data = _read(capture, "wacz")
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        datapackage = json.loads(package.read("datapackage.json"))
        signed = json.loads(package.read("datapackage-digest.json"))["signedData"]
    assert signed["version"] == "0.1.0"
    assert signed["created"] == datapackage["created"]
    assert signed["publicKey"] == _public_key(key)
    assert wacz_signature_verify(data, public_key=_public_key(key))
    assert capture.details["wacz"]["signed"] is True
    assert capture.details["wacz"]["public_key"] == _public_key(key)
    path = tmp_path / "signed.wacz"
    path.write_bytes(data)
    wacz_validate(path)

    # Contrary cases: another key, or a changed datapackage, do not verify.
    assert not wacz_signature_verify(data, public_key=_public_key(_key_file(tmp_path, "b.pem")))
    assert not wacz_signature_verify(_rewrite(data, "datapackage.json", b'{"x": 1}'))


def _rewrite(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, content if info.filename == name else source.read(info))
    return out.getvalue()


def test_the_validator_rejects_a_wacz_whose_archive_was_changed(
    no_screenshot, agency, bob, network, site, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, site_url("/page"))
    data = _read(capture, "wacz")
    warc_name = f"archive/capture-{capture.pk}.warc.gz"
    tampered = tmp_path / "tampered.wacz"
    tampered.write_bytes(_rewrite(data, warc_name, _read(capture, "warc") + b"\0"))

    with pytest.raises(WaczError, match="invalid"):
        wacz_validate(tampered)


def test_an_unusable_signing_key_is_refused_with_a_clear_message(tmp_path) -> None:
    from cases.evidence.capture.wacz import signer_from_file

    path = tmp_path / "key.pem"
    path.write_bytes(b"not a key")

    with pytest.raises(WaczError, match="CAPTURE_WACZ_SIGNING_KEY_FILE"):
        signer_from_file(str(path))
    with pytest.raises(WaczError, match="CAPTURE_WACZ_SIGNING_KEY_FILE"):
        signer_from_file(str(tmp_path / "missing.pem"))


def test_the_capture_page_says_whether_the_wacz_is_signed(
    client, no_screenshot, agency, bob, network, site, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    unsigned = _capture(agency, bob, network, site_url("/page"))
    no_screenshot.CAPTURE_WACZ_SIGNING_KEY_FILE = str(_key_file(tmp_path))
    signed = _capture(agency, bob, network, site_url("/page?again=1"))

    page = client.get(reverse("capture_detail", args=[unsigned.pk])).content.decode()
    assert 'data-signed="no"' in page and "Not signed" in page
    page = client.get(reverse("capture_detail", args=[signed.pk])).content.decode()
    assert 'data-signed="yes"' in page and signed.details["wacz"]["public_key"] in page
