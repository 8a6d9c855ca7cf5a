"""RFC 3161 timestamps and Ed25519 signatures of evidence packets."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.files.storage import default_storage

from cases.kernel.audit.timestamp import response_status, timestamp_request_der
from reports.models import DossierStatus
from reports.services import dossier_request

# A TimeStampResp with status "granted" and a (dummy) token: enough for the packet writer,
# which stores the TSA's answer as it is.
GRANTED_RESPONSE = bytes.fromhex("3010" + "3003020100" + "3009" + "06072a864886f70d010702")


def _packet(case, actor, capture, tmp_path: Path) -> tuple[object, Path]:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        dossier = dossier_request(case=case, kind="packet", actor=actor)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error
    folder = tmp_path / "packet"
    with default_storage.open(dossier.zip_name, "rb") as handle, zipfile.ZipFile(handle) as zf:
        zf.extractall(folder)
    return dossier, folder


def test_the_timestamp_request_is_valid_der_over_the_digest() -> None:
    digest = hashlib.sha256(b"manifest").digest()
    request = timestamp_request_der(digest, nonce=12345)
    assert request[0] == 0x30 and request[1] == len(request) - 2
    assert digest in request
    assert bytes.fromhex("0609608648016503040201") in request  # SHA-256 OID
    assert response_status(GRANTED_RESPONSE) == (0, True)


@pytest.fixture
def tsa_server():  # type: ignore[no-untyped-def]
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(GRANTED_RESPONSE)))
            self.end_headers()
            self.wfile.write(GRANTED_RESPONSE)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/tsa", received
    server.shutdown()


def test_a_configured_tsa_timestamps_the_manifest(
    small_case, bob, settings, tsa_server, tmp_path, django_capture_on_commit_callbacks
) -> None:
    url, received = tsa_server
    settings.TSA_URL = url
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
    dossier, folder = _packet(small_case, bob, django_capture_on_commit_callbacks, tmp_path)
    assert dossier.timestamped
    manifest_digest = hashlib.sha256((folder / "manifest.json").read_bytes()).digest()
    # The export's audit anchor is timestamped too (cases.kernel.audit.services.audit_anchor).
    [content_type] = [kind for kind, body in received if manifest_digest in body]
    assert content_type == "application/timestamp-query"
    assert (folder / "manifest.json.tsr").read_bytes() == GRANTED_RESPONSE
    assert "manifest.json.tsr" in (folder / "SHA256SUMS").read_text()
    assert "openssl ts -verify" in (folder / "README.txt").read_text()


def test_a_tsa_on_an_internal_address_is_refused_and_the_packet_says_so(
    small_case, bob, settings, tsa_server, tmp_path, django_capture_on_commit_callbacks
) -> None:
    url, received = tsa_server
    settings.TSA_URL = url  # loopback, and loopback is not allowed outside tests
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = False
    dossier, folder = _packet(small_case, bob, django_capture_on_commit_callbacks, tmp_path)
    assert not dossier.timestamped and not received
    assert not (folder / "manifest.json.tsr").exists()
    readme = (folder / "README.txt").read_text()
    assert "NOT timestamped" in readme and "refused" in readme


def test_a_signed_packet_verifies_with_its_public_key(
    small_case, bob, settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    key = Ed25519PrivateKey.generate()
    key_path = tmp_path / "packet-key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.PACKET_SIGNING_KEY = str(key_path)
    dossier, folder = _packet(small_case, bob, django_capture_on_commit_callbacks, tmp_path)
    assert dossier.signed
    sums = (folder / "SHA256SUMS").read_bytes()
    signature = (folder / "SHA256SUMS.sig").read_bytes()
    public = serialization.load_pem_public_key((folder / "signing-key.pub").read_bytes())
    public.verify(signature, sums)  # raises InvalidSignature when wrong
    assert "signing-key.pub" in sums.decode()
    if shutil.which("openssl"):
        command = [
            "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pub",
            "-rawin", "-in", "SHA256SUMS", "-sigfile", "SHA256SUMS.sig",
        ]  # fmt: skip
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        (folder / "SHA256SUMS").write_bytes(sums.replace(b"  ", b" *", 1))
        tampered = subprocess.run(command, cwd=folder, capture_output=True, check=False)
        assert tampered.returncode != 0
