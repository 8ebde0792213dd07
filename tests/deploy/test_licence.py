"""The licence: the unmodified Apache License 2.0 text, declared in the package metadata (PEP 639)."""

from __future__ import annotations

import hashlib
from importlib.metadata import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt (also Debian's /usr/share/common-licenses/Apache-2.0).
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_licence_file_is_the_unmodified_apache_2_0_text() -> None:
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_0_SHA256


def test_installed_metadata_declares_apache_2_0() -> None:
    project = metadata("ostiary")
    assert project["License-Expression"] == "Apache-2.0"
    assert project.get_all("License-File") == ["LICENSE"]
    # PEP 639: a licence expression replaces the "License ::" classifiers; both together are refused by tools.
    assert not [c for c in project.get_all("Classifier") or [] if c.startswith("License ::")]


def test_readme_names_the_licence() -> None:
    assert "[Apache License, Version 2.0](LICENSE)" in (ROOT / "README.md").read_text()
