"""The audit chain: HMAC keys and anchor storage."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from agencyguard.settings.core import STORAGES
from agencyguard.settings.env import DEBUG, envint, envlist


# Audit chain keys (cases.kernel.audit.keys): AUDIT_HMAC_KEYS="id=secret,id2=secret2" lists every key
# whose events must still verify; new events use AUDIT_HMAC_KEY_ID (default: the last listed).
# Never stored in the database. With DEBUG on and no key, a public development key (id "dev")
# is used; with DEBUG off a missing, short or "dev" key is a system check error.
def _audit_keys(items: list[str]) -> dict[str, str]:
    keys = {}
    for number, item in enumerate(items, start=1):
        key_id, sep, secret = item.partition("=")
        if not sep or not key_id.strip() or not secret.strip():
            # Said at start-up, without echoing the secret: a malformed entry is fatal.
            raise ImproperlyConfigured(
                "AUDIT_HMAC_KEYS must be a comma-separated list of id=secret entries; "
                f"entry {number} has no id or no secret"
            )
        keys[key_id.strip()] = secret.strip()
    return keys


AUDIT_HMAC_KEYS = _audit_keys(envlist("AUDIT_HMAC_KEYS", ""))
if not AUDIT_HMAC_KEYS and DEBUG:
    AUDIT_HMAC_KEYS = {"dev": "agencyguard-development-audit-key-not-a-secret"}
AUDIT_HMAC_KEY_ID = os.getenv("AUDIT_HMAC_KEY_ID", "") or next(reversed(AUDIT_HMAC_KEYS), "")
# Chain-head anchors go to the STORAGES alias "audit_anchors" when a bucket is named for them
# (best: its own bucket with S3 Object Lock, credentials the database host does not hold);
# otherwise to the default storage under audit/anchors/.
AUDIT_ANCHOR_BUCKET = os.getenv("AUDIT_ANCHOR_BUCKET", "")
if AUDIT_ANCHOR_BUCKET:
    STORAGES["audit_anchors"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AUDIT_ANCHOR_BUCKET,
            "endpoint_url": os.getenv("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.getenv("AWS_S3_REGION_NAME") or None,
            "access_key": os.getenv("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.getenv("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "file_overwrite": False,
        },
    }
# Audit verify (cases.kernel.audit.verify): a chain of at least AUDIT_VERIFY_PARALLEL_MIN events
# is hashed in AUDIT_VERIFY_WORKERS ranges by a pool of forked processes (1: one sequential pass;
# a daemonic process such as a Celery prefork child always verifies sequentially).
AUDIT_VERIFY_WORKERS = envint("AUDIT_VERIFY_WORKERS", str(os.cpu_count() or 1))
AUDIT_VERIFY_PARALLEL_MIN = envint("AUDIT_VERIFY_PARALLEL_MIN", "50000")
