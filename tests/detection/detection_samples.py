"""Shared helpers of the detection tests: sample images built in memory (data files come
from tests.data_path)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def gradient_png(size: tuple[int, int] = (512, 512)) -> bytes:
    """Pillow's plain gradient: no metadata, no watermark, nothing to find."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def textured_rgb(size: tuple[int, int] = (512, 512), seed: int = 3) -> np.ndarray:
    """A detailed RGB picture (gradient plus noise): enough texture for a DWT watermark."""
    width, height = size
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 127, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 127, height, dtype=np.float32)[:, None, None]
    noise = rng.integers(0, 128, (height, width, 3)).astype(np.float32)
    return np.clip(x + y * 0.5 + noise, 0, 255).astype(np.uint8)


def png_of(rgb: np.ndarray, **options: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG", **options)
    return out.getvalue()


def c2pa_signed_jpeg(source_type: str = "trainedAlgorithmicMedia") -> tuple[bytes, str]:
    """A small JPEG with a C2PA manifest declaring `source_type`, signed here by a throwaway
    CA made for the test. Returns (jpeg bytes, the CA's PEM), so a test can trust it or not."""
    import datetime
    import json

    import c2pa
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AgencyGuard tests"),
            ]
        )

    def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Test Root CA"))
        .issuer_name(name("Test Root CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(sign=False, ca=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Test Signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def pem(cert: x509.Certificate) -> str:
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg=b"es256", sign_cert=(pem(leaf) + pem(ca)).encode(), private_key=private, ta_url=None
        )
    )
    manifest = {
        "claim_generator_info": [{"name": "AgencyGuard test generator", "version": "1"}],
        "title": "generated.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}",
                        }
                    ]
                },
            }
        ],
    }
    source = io.BytesIO()
    Image.fromarray(textured_rgb((128, 128))).save(source, format="JPEG", quality=90)
    source.seek(0)
    signed = io.BytesIO()
    c2pa.Builder(json.dumps(manifest)).sign(signer, "image/jpeg", source, signed)
    return signed.getvalue(), pem(ca)
