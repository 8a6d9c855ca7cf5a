"""The WACZ of one capture: its WARC packaged for Webrecorder's tools (ReplayWeb.page,
pywb), built with the `wacz` package (py-wacz) exactly as its `wacz create` command does:
the WARC stored under archive/, a CDXJ index under indexes/, pages/pages.jsonl naming the
captured page, datapackage.json listing every file with its SHA-256, and
datapackage-digest.json holding the SHA-256 of datapackage.json.

Signing follows the WACZ Signing and Verification recommendation 0.1.0 ("anonymous
signature"): with a key configured (CAPTURE_WACZ_SIGNING_KEY_FILE, an ECDSA private key
in PEM), datapackage-digest.json gets a `signedData` object whose `signature` is the
base64 DER ECDSA-SHA256 signature of the digest's `hash` string and whose `publicKey` is
the base64 DER SubjectPublicKeyInfo of the key; `created` is datapackage.json's own
`created`, as the recommendation and `wacz validate` require. py-wacz itself signs only
through a remote authsign server (domain certificate and RFC 3161 timestamp), which a
capture worker cannot reach; docs/capture.md says what a verifier must do with the
public key. Without a key the WACZ is not signed and the capture record says so.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

SIGNATURE_VERSION = "0.1.0"
DIGEST_NAME = "datapackage-digest.json"
MEDIA_TYPE = "application/wacz"


class WaczError(Exception):
    """py-wacz could not build or read the package; the message says why."""


@dataclass(frozen=True)
class WaczSigner:
    """An ECDSA private key (PEM) that signs datapackage digests."""

    key_pem: bytes

    def _key(self) -> Any:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise WaczError("The WACZ signing key must be an ECDSA (EC) private key.")
        return key

    def public_key_b64(self) -> str:
        from cryptography.hazmat.primitives import serialization

        der = (
            self._key()
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return base64.b64encode(der).decode("ascii")

    def sign(self, digest: str, created: str) -> dict[str, str]:
        """The recommendation's anonymous `signedData` for one datapackage digest."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature = self._key().sign(digest.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        return {
            "hash": digest,
            "created": created,
            "software": f"agencyguard {_version('agencyguard')}",
            "version": SIGNATURE_VERSION,
            "signature": base64.b64encode(signature).decode("ascii"),
            "publicKey": self.public_key_b64(),
        }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def signer_from_file(path: str) -> WaczSigner | None:
    """The configured signer, or None when no key file is configured."""
    if not path:
        return None
    try:
        signer = WaczSigner(Path(path).read_bytes())
        signer.public_key_b64()  # fail now, with a clear message, on a key that cannot sign
    except (OSError, ValueError, TypeError, WaczError) as exc:
        raise WaczError(f"CAPTURE_WACZ_SIGNING_KEY_FILE ({path}) cannot sign: {exc}") from exc
    return signer


@dataclass
class WaczPackage:
    file: IO[bytes]  # positioned at 0
    datapackage_sha256: str
    signed: bool
    public_key: str  # base64 SPKI of the signing key, "" when not signed
    pages: int


def _run_wacz(args: list[str]) -> str:
    """Run py-wacz's command line in-process; returns what it printed. It reports most
    problems by printing and returning non-zero, some by raising."""
    from wacz.main import main as wacz_main

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = wacz_main(args)
    except Exception as exc:
        raise WaczError(f"wacz {args[0]} failed: {exc}") from exc
    if code != 0:
        raise WaczError(f"wacz {args[0]} failed: {printed.getvalue().strip()[-500:]}")
    return printed.getvalue()


def wacz_build(
    *,
    warc: IO[bytes],
    warc_name: str,
    main_url: str,
    title: str,
    description: str,
    signer: WaczSigner | None,
) -> WaczPackage:
    """Package one WARC as a WACZ. `main_url` is the page the WARC has a response for
    (the capture's final URL), or "" when the visit got no page (a DNS failure, a
    refusal): the WACZ then has no page list, only the archive and its index."""
    with tempfile.TemporaryDirectory(prefix="ag-wacz-") as scratch:
        folder = Path(scratch)
        warc_path = folder / warc_name
        warc.seek(0)
        with warc_path.open("wb") as handle:
            shutil.copyfileobj(warc, handle)
        warc.seek(0)
        built = folder / "built.wacz"
        args = ["create", str(warc_path), "-o", str(built), "--title", title]
        args += ["--desc", description]
        if main_url:
            args += ["--url", main_url]
        else:
            # No page to name: an empty page list (its header alone) keeps the package
            # complete, as the WACZ specification wants pages/pages.jsonl in every WACZ.
            header = folder / "pages.jsonl"
            header.write_text(json.dumps({"format": "json-pages-1.0", "id": "pages"}) + "\n")
            args += ["--pages", str(header), "--copy-pages"]
        _run_wacz(args)
        out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
        return _finish(built, out, signer)


def _finish(built: Path, out: IO[bytes], signer: WaczSigner | None) -> WaczPackage:
    """Copy the package as py-wacz wrote it, replacing datapackage-digest.json with a
    signed one when there is a signer."""
    with zipfile.ZipFile(built) as source:
        datapackage = source.read("datapackage.json")
        digest = json.loads(source.read(DIGEST_NAME))
        pages = 0
        if "pages/pages.jsonl" in source.namelist():
            pages = max(len(source.read("pages/pages.jsonl").splitlines()) - 1, 0)
        public_key = ""
        if signer is not None:
            created = json.loads(datapackage)["created"]
            digest["signedData"] = signer.sign(digest["hash"], created)
            public_key = digest["signedData"]["publicKey"]
            with zipfile.ZipFile(out, "w") as target:
                for info in source.infolist():
                    if info.filename == DIGEST_NAME:
                        target.writestr(info, json.dumps(digest, indent=2))
                    else:
                        with source.open(info) as src, target.open(info, "w") as dst:
                            shutil.copyfileobj(src, dst)
        else:
            with built.open("rb") as handle:
                shutil.copyfileobj(handle, out)
    out.seek(0)
    return WaczPackage(
        file=out,
        datapackage_sha256=str(digest["hash"]).removeprefix("sha256:"),
        signed=signer is not None,
        public_key=public_key,
        pages=pages,
    )


def wacz_validate(path: str | Path) -> None:
    """`wacz validate -f PATH`: raises WaczError with py-wacz's report when it fails."""
    _run_wacz(["validate", "-f", str(path)])


def wacz_signature_verify(data: bytes, *, public_key: str = "") -> bool:
    """Whether the WACZ's anonymous signature is a valid signature of its datapackage
    digest, and the digest the hash of its datapackage.json. With `public_key` (base64
    SPKI), the signature must also be by that key (the out-of-band check the
    recommendation leaves to the verifier)."""
    import hashlib

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    with zipfile.ZipFile(io.BytesIO(data)) as package:
        datapackage = package.read("datapackage.json")
        digest = json.loads(package.read(DIGEST_NAME))
    signed = digest.get("signedData") or {}
    if not signed or digest.get("hash") != "sha256:" + hashlib.sha256(datapackage).hexdigest():
        return False
    if signed.get("hash") != digest["hash"]:
        return False
    if signed.get("created") != json.loads(datapackage).get("created"):
        return False
    if public_key and signed.get("publicKey") != public_key:
        return False
    key = load_der_public_key(base64.b64decode(signed["publicKey"]))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(
            base64.b64decode(signed["signature"]),
            str(signed["hash"]).encode("ascii"),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        return False
    return True
