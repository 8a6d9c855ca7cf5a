"""README.txt of an evidence packet: how a person checks it, saying only what the packet
holds (timestamped and signed only when it is)."""

from __future__ import annotations

from reports.context import DossierContext


def readme_text(
    *,
    context: DossierContext,
    identifier: str,
    timestamp_note: str,
    timestamped: bool,
    signed: bool,
) -> str:
    lines = [
        "AgencyGuard evidence packet",
        "===========================",
        "",
        f"Dossier identifier: {identifier}",
        f"Case: {context.case.reference}",
        f"Generated (UTC): {context.generated_utc}",
        f"Evidence items: {len(context.items)}",
        f"Records of unsuccessful capture attempts: {len(context.records)}",
        "",
        "What is in here",
        "---------------",
        "dossier.pdf              the dossier (screenshots blurred)",
        "evidence/<sha256>.<ext>  each original file exactly as collected, named by the",
        "                         SHA-256 computed when it was collected",
        "manifest.json            every item: metadata, capture record (URL, times in UTC",
        "                         and KST, collector, tool and version, IP addresses, HTTP",
        "                         status and headers), chain of custody, detection results",
        "                         Each item's role says what it is: evidence (from a",
        "                         successful capture, or uploaded), or the record of an",
        "                         unsuccessful capture attempt (its exchange log and WARC),",
        "                         which is not evidence of the content. capture_attempts",
        "                         lists every capture of every finding with its outcome,",
        "                         its observation (live, removed, or unreachable: the last",
        "                         says nothing about removal), the browser's navigation",
        "                         record and its WACZ with its hash and signature status.",
        "SHA256SUMS               the SHA-256 of every file in this packet except itself",
        "                         (and except SHA256SUMS.sig, which signs it)",
        "",
        "1. Check every file",
        "-------------------",
        "Unpack the ZIP, go into the folder and run:",
        "",
        "    sha256sum --strict -c SHA256SUMS",
        "",
        "(macOS: shasum -a 256 -c SHA256SUMS). Every line must say OK. One changed byte in",
        "any file makes its line FAILED. The name of each file under evidence/ is its own",
        "SHA-256, which must also equal the sha256 of that item in manifest.json and in the",
        "dossier.",
        "",
        "2. Trusted timestamp",
        "--------------------",
    ]
    if timestamped:
        lines += [
            timestamp_note,
            "manifest.json.tsr is an RFC 3161 time-stamp response over manifest.json. With",
            "the TSA's certificate chain (tsa-chain.pem, from the TSA) run:",
            "",
            "    openssl ts -verify -in manifest.json.tsr -data manifest.json -CAfile tsa-chain.pem",
            "",
            "It proves manifest.json (and so every hash listed in it) existed at the time",
            "shown by: openssl ts -reply -in manifest.json.tsr -text",
        ]
    else:
        lines += [f"This packet is NOT timestamped. {timestamp_note}".rstrip()]
    lines += ["", "3. Signature", "------------"]
    if signed:
        lines += [
            "SHA256SUMS.sig is an Ed25519 signature over SHA256SUMS made with the deployment's",
            "packet key; signing-key.pub is its public key. Compare the key's fingerprint",
            "with the one the sending agency gives you by another channel, then run:",
            "",
            "    openssl pkeyutl -verify -pubin -inkey signing-key.pub -rawin \\",
            "        -in SHA256SUMS -sigfile SHA256SUMS.sig",
            "",
            'It must print "Signature Verified Successfully".',
        ]
    else:
        lines += ["This packet is not signed."]
    lines += [
        "",
        "4. Perceptual hashes",
        "--------------------",
        "pdq_hash values in manifest.json are PDQ perceptual hashes: they identify the same",
        "picture after resizing or re-encoding (31 or fewer differing bits of 256). They do",
        "not prove integrity; SHA-256 does.",
        "",
        "Explicit media: the originals under evidence/ are unblurred. Open them only when",
        "needed.",
        "",
    ]
    return "\n".join(lines)
