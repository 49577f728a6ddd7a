"""Synthesize each stage once per session; tests read the templates from disk.

Synthesis runs the CDK's jsii runtime on Node.js; no AWS account or network is
used (every lookup is avoided: hosted zones and certificates come from context).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402 - after the jsii environment is set
from aws_cdk.assertions import Template  # noqa: E402

from quire_infra.stages import build_stage  # noqa: E402

INFRA_DIR = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SIGNING_KEY_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:quire-prod/cloudfront-key-AbCdEf"
CLOUDFRONT_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"


def cdk_json_context() -> dict[str, Any]:
    """Return the context a deployer gets from ``infra/cdk.json``."""
    return json.loads((INFRA_DIR / "cdk.json").read_text())["context"]


@dataclass
class Synth:
    """One synthesized stage: its templates as dicts and assertion helpers."""

    stage: str
    outdir: Path
    templates: dict[str, dict[str, Any]]

    def template(self, short_name: str) -> Template:
        """Return the assertions ``Template`` of e.g. ``"Service"``."""
        return Template.from_json(self.raw(short_name))

    def raw(self, short_name: str) -> dict[str, Any]:
        """Return the template of e.g. ``"Service"`` as a dict."""
        return self.templates[f"Quire-{self.stage}-{short_name}"]

    def resources(self, short_name: str, type_: str) -> dict[str, dict[str, Any]]:
        """Return the resources of ``type_`` in one stack, by logical id."""
        return {
            logical_id: resource
            for logical_id, resource in self.raw(short_name)["Resources"].items()
            if resource["Type"] == type_
        }


def synthesize(stage: str, outdir: Path, **overrides: Any) -> Synth:
    """Synthesize ``stage`` of the real app with cdk.json's context plus ``overrides``."""
    context = {**cdk_json_context(), **overrides}
    app = cdk.App(context=context, outdir=str(outdir))
    build_stage(app, stage)
    assembly = app.synth()
    templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    return Synth(stage, outdir, templates)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The dev stage exactly as ``cdk.json`` describes it."""
    return synthesize("dev", tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The prod stage with every optional edge feature switched on."""
    return synthesize(
        "prod",
        tmp_path_factory.mktemp("cdk-prod"),
        cloudFrontCertificateArn=CLOUDFRONT_CERT,
        cloudFrontPublicKeyPem=(FIXTURES / "download-signing-key.pub.pem").read_text(),
        cloudFrontPrivateKeySecretArn=SIGNING_KEY_SECRET,
        secretsInjection="ecs",
        cognitoDomainPrefix="quire-prod-example",
    )


@pytest.fixture(scope="session")
def dev_variant(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Dev with the other switch positions: paused, x86, private tasks, 2 NATs.

    Also no ``webOrigins`` (cdk.json's dev stage lists some).
    """
    context = cdk_json_context()
    dev_stage = {k: v for k, v in context["stages"]["dev"].items() if k != "webOrigins"}
    return synthesize(
        "dev",
        tmp_path_factory.mktemp("cdk-dev-variant"),
        stages={**context["stages"], "dev": dev_stage},
        webOrigins=[],
        paused="true",
        cpuArchitecture="x86_64",
        taskSubnets="private",
        natGateways="2",
        aiProviders="openai,bedrock",
    )
