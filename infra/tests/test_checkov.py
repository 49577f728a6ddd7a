"""checkov over every synthesized template: each finding fixed or baselined."""

import fnmatch
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import INFRA_DIR

CHECKOV = Path(sys.executable).with_name("checkov")
BASELINE = INFRA_DIR / "checkov-baseline.txt"


@dataclass(frozen=True)
class Accepted:
    """One baseline line: a check, where it may fail, and why that is fine."""

    check: str
    pattern: str
    reason: str

    def covers(self, check: str, where: str) -> bool:
        """Say whether this line accepts ``check`` failing at ``where``."""
        return check == self.check and fnmatch.fnmatchcase(where, self.pattern)


def read_baseline() -> list[Accepted]:
    """Parse checkov-baseline.txt; every line needs a check, a pattern, a reason."""
    accepted = []
    for number, line in enumerate(BASELINE.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"{BASELINE.name}:{number}: expected CHECK | PATTERN | reason"
            )
        accepted.append(Accepted(*parts))
    return accepted


@pytest.fixture(scope="session")
def findings(dev, prod, dev_variant, tmp_path_factory) -> list[tuple[str, str]]:
    """Run checkov once over all three variants; return (check, file:resource)."""
    scan = tmp_path_factory.mktemp("checkov")
    for name, synth in (("dev", dev), ("prod", prod), ("dev_variant", dev_variant)):
        for template in synth.outdir.glob("*.template.json"):
            shutil.copy(template, scan / f"{name}__{template.name}")
    result = subprocess.run(  # noqa: S603 - our own venv's checkov on our files
        [
            str(CHECKOV),
            "--directory",
            str(scan),
            "--framework",
            "cloudformation",
            "--skip-download",  # offline: no guideline or policy downloads
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 300
    return [
        (failed["check_id"], f"{Path(failed['file_path']).name}:{failed['resource']}")
        for failed in report["results"]["failed_checks"]
    ]


@pytest.mark.slow
def test_checkov_every_finding_is_fixed_or_baselined(findings):
    """No finding outside checkov-baseline.txt."""
    accepted = read_baseline()
    unexplained = [
        f"{check} {where}"
        for check, where in findings
        if not any(line.covers(check, where) for line in accepted)
    ]
    assert unexplained == []


@pytest.mark.slow
def test_checkov_baseline_has_no_stale_line(findings):
    """Every baseline line still matches a finding (fixed ones are removed)."""
    stale = [
        f"{line.check} | {line.pattern}"
        for line in read_baseline()
        if not any(line.covers(check, where) for check, where in findings)
    ]
    assert stale == []


def test_checkov_baseline_lines_all_give_a_reason():
    """Each line parses into a check id, a pattern and a one-line reason."""
    lines = read_baseline()
    assert lines
    for line in lines:
        assert line.check.startswith("CKV")
        assert len(line.reason) > 20
