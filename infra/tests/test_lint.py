"""cfn-lint over every synthesized template of both stages."""

import subprocess
import sys
from pathlib import Path

import pytest

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["dev", "prod", "dev_variant"])
def test_cfn_lint_stage_templates_have_no_findings(stage, request):
    """cfn-lint (errors, warnings and informational) finds nothing to report."""
    synth = request.getfixturevalue(stage)
    templates = sorted(str(path) for path in synth.outdir.glob("*.template.json"))
    assert len(templates) == {"dev": 8, "prod": 9, "dev_variant": 8}[stage]
    result = subprocess.run(  # noqa: S603 - our own venv's cfn-lint on our files
        # W3005 (a DependsOn a GetAtt already implies) only ever fires on
        # the custom-resource providers CDK itself generates.
        [str(CFN_LINT), "--info", "--ignore-checks", "W3005", "--", *templates],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
