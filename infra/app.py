#!/usr/bin/env python3
"""The Quire CDK app: ``cdk synth -c stage=dev`` (or prod); see infra/README.md."""

import aws_cdk as cdk

from quire_infra.stages import build_stage

app = cdk.App()
build_stage(app)
app.synth()
