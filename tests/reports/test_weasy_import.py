from __future__ import annotations

import subprocess
import sys


def test_rendering_pdfs_leaves_truncated_images_refused() -> None:
    # A fresh interpreter: in this test process another module may have imported it already.
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'agencyguard.settings'); "
        "django.setup(); import reports.render, reports.fetcher; from PIL import ImageFile; "
        "print(ImageFile.LOAD_TRUNCATED_IMAGES)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
