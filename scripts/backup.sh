#!/usr/bin/env bash
# Back up AgencyGuard: the database (pg_dump, custom format) and the evidence storage
# directory (a tar), with a manifest of SHA-256 sums (docs/deploy.md "Backups").
#
#   DATABASE_URL=postgres://... MEDIA_ROOT=/data/media scripts/backup.sh /backups
#
# Writes /backups/agencyguard-<UTC time>/ with database.dump, storage.tar (when the storage
# is a directory) and SHA256SUMS, and prints that folder's path. MEDIA_ROOT defaults to
# $VAR_DIR/media (VAR_DIR: ./var), as in agencyguard/settings/. With AWS_STORAGE_BUCKET_NAME
# set, evidence lives in the bucket: mirror it with the storage service's own tools (the
# folder gets a STORAGE-IN-BUCKET note instead of storage.tar). The audit chain's keys
# (AUDIT_HMAC_KEYS) are not in the backup: keep them in your secret store.
#
# The dump is consistent by itself (one snapshot). Files are only ever added, never
# changed, so a storage tar taken after the dump holds every blob the dump refers to.
set -euo pipefail

out_root=${1:?usage: scripts/backup.sh OUTPUT_FOLDER}
: "${DATABASE_URL:?set DATABASE_URL (postgres://user:password@host:5432/name)}"
case "$DATABASE_URL" in
postgres://* | postgresql://*) ;;
*) echo "backup.sh: DATABASE_URL must be a PostgreSQL URL" >&2; exit 2 ;;
esac
media_root=${MEDIA_ROOT:-${VAR_DIR:-var}/media}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
folder="$out_root/agencyguard-$stamp"
mkdir -p "$folder"
umask 077  # the dump holds personal data and evidence metadata

pg_dump --format=custom --no-owner --no-acl --file="$folder/database.dump" \
    --dbname="$DATABASE_URL"

if [ -n "${AWS_STORAGE_BUCKET_NAME:-}" ]; then
    cat >"$folder/STORAGE-IN-BUCKET" <<NOTE
Evidence originals, previews and audit anchors are in the bucket "$AWS_STORAGE_BUCKET_NAME"
(endpoint ${AWS_S3_ENDPOINT_URL:-AWS}, prefix "${AWS_LOCATION:-}"), not in this folder.
Back it up with the storage service (versioning and object lock, replication, or
"mc mirror" / "aws s3 sync" of evidence/, derived/ and audit/).
NOTE
else
    if [ ! -d "$media_root" ]; then
        echo "backup.sh: no storage directory at $media_root (set MEDIA_ROOT or VAR_DIR)" >&2
        exit 2
    fi
    # Temporary ingest files are not evidence; everything else is.
    tar --create --file="$folder/storage.tar" --directory="$media_root" \
        --exclude='./evidence/tmp' .
fi

(cd "$folder" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort |
    xargs sha256sum >SHA256SUMS)
echo "$folder"
