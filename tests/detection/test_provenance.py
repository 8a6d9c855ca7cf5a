"""Provenance signals need no learned weights: C2PA, IPTC XMP, generator text, EXIF
Software, the Stable Diffusion watermark. Positive ones are strong; none proves nothing."""

from __future__ import annotations

import io
import json

import pytest
from imwatermark import WatermarkEncoder
from PIL import Image, PngImagePlugin

from detection.provenance import Signal, provenance_signals
from detection.provenance.watermarks import SDXL_MESSAGE
from tests.data_path import data_file
from tests.detection.detection_samples import (
    c2pa_signed_jpeg,
    gradient_png,
    png_of,
    textured_rgb,
)

SDXL_BITS = [int(bit) for bit in bin(SDXL_MESSAGE)[2:]]


def kinds(signals: list[Signal]) -> list[tuple[str, str]]:
    return [(signal.kind, signal.strength) for signal in signals]


def test_c2pa_fixture_c_jpg_declares_an_algorithmic_source() -> None:
    data = data_file("provenance", "c2pa", "C.jpg").read_bytes()
    signals = provenance_signals(data, "image/jpeg")
    c2pa = [s for s in signals if s.kind == "c2pa"]
    assert len(c2pa) == 1
    signal = c2pa[0]
    assert signal.strength == "strong"
    assert signal.details["digital_source_types"] == ["algorithmicMedia"]
    assert "AI/algorithmic source" in signal.summary
    assert signal.details["claim_generator"].startswith("make_test_images")
    # The test signer is not on any configured trust list, and the report says so.
    assert signal.details["validation_state"] == "Valid"
    assert signal.details["trusted"] is False
    assert "not on the configured trust list" in signal.summary


def test_a_c2pa_signer_is_trusted_only_when_its_anchor_is_configured() -> None:
    data, ca_pem = c2pa_signed_jpeg("trainedAlgorithmicMedia")
    untrusted = provenance_signals(data, "image/jpeg")[0]
    trusted = provenance_signals(data, "image/jpeg", trust_anchors_pem=ca_pem)[0]
    assert (untrusted.kind, untrusted.strength) == ("c2pa", "strong")
    assert untrusted.details["trusted"] is False
    assert "signingCredential.untrusted" in untrusted.details["validation_failures"]
    assert trusted.details["trusted"] is True
    assert trusted.details["validation_state"] == "Trusted"
    assert "is on the configured trust list" in trusted.summary
    assert trusted.details["digital_source_types"] == ["trainedAlgorithmicMedia"]


def test_an_altered_file_with_an_ai_manifest_is_only_a_hint() -> None:
    data, _ = c2pa_signed_jpeg("trainedAlgorithmicMedia")
    # Flip bytes near the end of the JPEG scan data: the manifest's hash no longer matches.
    tampered = bytearray(data)
    for offset in range(len(data) - 200, len(data) - 180):
        tampered[offset] ^= 0x5A
    signals = [s for s in provenance_signals(bytes(tampered), "image/jpeg") if s.kind == "c2pa"]
    assert kinds(signals) == [("c2pa", "weak")]
    assert signals[0].details["validation_state"] == "Invalid"
    assert "altered after signing" in signals[0].summary


def test_a_camera_manifest_is_provenance_without_an_ai_claim() -> None:
    data, _ = c2pa_signed_jpeg("digitalCapture")
    signals = provenance_signals(data, "image/jpeg")
    assert kinds(signals) == [("c2pa", "info")]
    assert not signals[0].indicates_ai


def test_files_without_a_manifest_or_with_a_remote_one_fetch_nothing() -> None:
    assert not provenance_signals(
        data_file("provenance", "c2pa", "A.jpg").read_bytes(), "image/jpeg"
    )
    remote = provenance_signals(
        data_file("provenance", "c2pa", "cloud.jpg").read_bytes(), "image/jpeg"
    )
    assert kinds(remote) == [("c2pa", "info")]
    assert remote[0].details["remote_url"].startswith("https://")
    assert "were not fetched" in remote[0].summary


def test_a_video_manifest_is_read_too() -> None:
    data = data_file("provenance", "c2pa", "video1.mp4").read_bytes()
    signals = provenance_signals(data, "video/mp4")
    assert kinds(signals) == [("c2pa", "info")]
    assert signals[0].details["claim_generator"].startswith("TestApp")


@pytest.mark.parametrize(
    ("mode", "payload", "name"),
    [
        ("bytes", b"StableDiffusionV1", "Stable Diffusion 1.x"),
        ("bytes", b"SDV2", "Stable Diffusion 2.x"),
        ("bits", SDXL_BITS, "Stable Diffusion XL"),
    ],
)
def test_a_png_carrying_the_sd_watermark_made_here_is_detected(
    mode: str, payload: object, name: str
) -> None:
    rgb = textured_rgb((512, 512))
    encoder = WatermarkEncoder()
    encoder.set_watermark(mode, payload)
    # imwatermark works on BGR, as the Stable Diffusion scripts call it.
    marked = encoder.encode(rgb[:, :, ::-1].copy(), "dwtDct")[:, :, ::-1]
    signals = provenance_signals(png_of(marked), "image/png")
    assert kinds(signals) == [("sd_watermark", "strong")]
    assert signals[0].details["watermark"] == name
    assert signals[0].details["bit_agreement"] >= 0.95
    # The same picture without the mark has none.
    assert provenance_signals(png_of(rgb), "image/png") == []


def test_an_image_with_nothing_reports_no_provenance_signal() -> None:
    assert provenance_signals(gradient_png(), "image/png") == []


def test_a_real_photo_has_no_ai_signal() -> None:
    data = data_file("faces", "real", "obama.jpg").read_bytes()
    assert not [s for s in provenance_signals(data, "image/jpeg") if s.indicates_ai]


def _png_with_text(**chunks: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_automatic1111_parameters_in_a_png_are_a_strong_signal() -> None:
    data = _png_with_text(
        parameters="portrait of a singer\nNegative prompt: blurry\n"
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512"
    )
    signals = provenance_signals(data, "image/png")
    assert kinds(signals) == [("png_text", "strong")]
    assert "AUTOMATIC1111" in signals[0].details["generator_name"]
    assert "Steps: 30" in signals[0].details["excerpt"]


def test_a_comfyui_workflow_in_a_png_is_a_strong_signal() -> None:
    graph = {"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}
    signals = provenance_signals(_png_with_text(prompt=json.dumps(graph)), "image/png")
    assert kinds(signals) == [("png_text", "strong")]
    assert signals[0].details["generator_name"] == "ComfyUI"


def test_a_png_comment_that_only_mentions_steps_is_not_a_signal() -> None:
    assert provenance_signals(_png_with_text(Comment="Steps: see the caption"), "image/png") == []


@pytest.mark.parametrize(
    ("software", "expected"),
    [
        ("Midjourney v6", "Midjourney"),
        ("DALL·E 3", "DALL·E"),
        ("Adobe Firefly", "Adobe Firefly"),
        ("DeepFaceLab 2.0", "DeepFaceLab"),
    ],
)
def test_exif_software_naming_a_generator_is_a_signal(software: str, expected: str) -> None:
    exif = Image.Exif()
    exif[0x0131] = software
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(out, format="JPEG", exif=exif)
    signals = provenance_signals(out.getvalue(), "image/jpeg")
    assert kinds(signals) == [("exif_software", "strong")]
    assert signals[0].details["generator_name"] == expected


def test_ordinary_editing_software_is_not_a_signal() -> None:
    exif = Image.Exif()
    exif[0x0131] = "Adobe Photoshop 25.0 (Windows)"
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(out, format="JPEG", exif=exif)
    assert provenance_signals(out.getvalue(), "image/jpeg") == []


def _jpeg_with_xmp(source_type: str) -> bytes:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(out, format="JPEG", xmp=xmp)
    return out.getvalue()


def test_iptc_digital_source_type_in_xmp_is_read() -> None:
    signals = provenance_signals(_jpeg_with_xmp("trainedAlgorithmicMedia"), "image/jpeg")
    assert kinds(signals) == [("iptc_digital_source_type", "strong")]
    assert signals[0].details["digital_source_types"] == ["trainedAlgorithmicMedia"]
    camera = provenance_signals(_jpeg_with_xmp("digitalCapture"), "image/jpeg")
    assert kinds(camera) == [("iptc_digital_source_type", "info")]


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"\xff\xd8\xff\xe0" + b"\x00" * 10],
)
def test_broken_input_gives_no_signal_and_never_raises(data: bytes) -> None:
    assert provenance_signals(data, "image/png") == []


def test_signals_round_trip_through_json() -> None:
    data, _ = c2pa_signed_jpeg()
    signal = provenance_signals(data, "image/jpeg")[0]
    again = Signal.from_dict(json.loads(json.dumps(signal.to_dict())))
    assert again == signal


def test_every_provenance_check_can_run_here() -> None:
    from detection.provenance import provenance_unavailable

    assert provenance_unavailable() == []
