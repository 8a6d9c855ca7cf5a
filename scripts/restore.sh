#!/usr/bin/env bash
# Restore a backup of scripts/backup.sh into a FRESH database and storage directory
# (docs/deploy.md "Backups"). Never restores over existing data: it refuses a database
# that exists and a storage directory that is not empty.
#
#   scripts/restore.sh /backups/agencyguard-20260101T000000Z \
#       postgres://postgres@127.0.0.1:5432/agencyguard_restored /srv/restored-media
#
# The backup's SHA256SUMS is checked first. The database is created (through the server's
# `postgres` database, so the URL's user needs CREATEDB), then pg_restore fills it. Point
# DATABASE_URL and MEDIA_ROOT (or VAR_DIR) at the result and run `manage.py audit_verify`
# and `manage.py evidence_verify`.
set -euo pipefail

folder=${1:?usage: scripts/restore.sh BACKUP_FOLDER TARGET_DATABASE_URL TARGET_STORAGE_DIR}
target_url=${2:?usage: scripts/restore.sh BACKUP_FOLDER TARGET_DATABASE_URL TARGET_STORAGE_DIR}
target_storage=${3:?usage: scripts/restore.sh BACKUP_FOLDER TARGET_DATABASE_URL TARGET_STORAGE_DIR}

die() { echo "restore.sh: $*" >&2; exit 1; }

(cd "$folder" && sha256sum --check --quiet SHA256SUMS) || die "checksums do not match: backup damaged"

# The database name and a maintenance URL on the same server (path /postgres).
read -r target_db admin_url < <(python3 - "$target_url" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit

url = urlsplit(sys.argv[1])
if url.scheme not in ("postgres", "postgresql"):
    sys.exit("restore.sh: the target must be a postgres:// URL")
print(url.path.lstrip("/"), urlunsplit(url._replace(path="/postgres")))
PY
)
[[ "$target_db" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] || die "unusual database name '$target_db'"

if [ -n "$(psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$target_db'")" ]; then
    die "database $target_db exists: restore only into a fresh database"
fi
if [ -d "$target_storage" ] && [ -n "$(ls -A "$target_storage")" ]; then
    die "$target_storage is not empty: restore only into a fresh storage directory"
fi

psql "$admin_url" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$target_db\""
pg_restore --no-owner --no-acl --exit-on-error --dbname="$target_url" "$folder/database.dump"

if [ -f "$folder/storage.tar" ]; then
    mkdir -p "$target_storage"
    tar --extract --file="$folder/storage.tar" --directory="$target_storage"
else
    echo "restore.sh: no storage.tar: restore the bucket with the storage service" >&2
fi
echo "restored into database $target_db and $target_storage"
