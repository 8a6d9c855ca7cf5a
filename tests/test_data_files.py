"""tests/data holds only files its LICENCES inventory names, each with the SHA-256 written
there and its licence file present: a new or changed file fails here until it is listed."""

from __future__ import annotations

import hashlib
import re

from tests.data_path import TEST_DATA, data_file

# The inventory itself and the licence texts it points to are not data.
NOT_DATA = {"README.md", "LICENCES", "LICENSE", "LICENSE.md", "LICENSE-MIT", "NOTICE"}


def _inventory() -> dict[str, tuple[str, list[str]]]:
    """{path: (sha256, [licence files])} from tests/data/LICENCES."""
    entries = {}
    for line in data_file("LICENCES").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, *_, sha256 = line.split()
        licences = re.search(r"\(([^)]*)\)", line)
        assert licences, f"no (licence file) in LICENCES line: {line}"
        entries[path] = (sha256, licences.group(1).split(", "))
    return entries


def test_every_data_file_is_listed_with_its_checksum():
    listed = _inventory()
    present = {
        str(p.relative_to(TEST_DATA))
        for p in TEST_DATA.rglob("*")
        if p.is_file() and p.name not in NOT_DATA
    }
    assert present == set(listed)
    for path, (sha256, _) in listed.items():
        assert hashlib.sha256(data_file(path).read_bytes()).hexdigest() == sha256, path


def test_every_listed_licence_file_exists():
    for path, (_, licences) in _inventory().items():
        for licence in licences:
            assert data_file(licence).is_file(), (path, licence)
