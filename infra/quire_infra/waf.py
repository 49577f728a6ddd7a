"""The CLOUDFRONT-scope web ACL, in its own stack in us-east-1.

CloudFront only accepts web ACLs created in us-east-1. This stack holds the ACL
alone, and the service stack (in the stage's region, next to the API, the bucket
and the signing key the distribution also needs) takes its ARN through CDK's
``crossRegionReferences`` (an SSM parameter written here, read by a custom
resource there). Moving the whole distribution to us-east-1 instead would make
five values cross regions in both directions (API domain, bucket, key group,
distribution domain and key id for the tasks): a cycle.

Here the ACL sees the viewer's own address, so the rate rule and the IP
reputation list judge the client, not CloudFront.
"""

import json

from aws_cdk import Stack
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from quire_infra.config import StageConfig

AI_PATH_REGEX = r"^/api/v1/(ai/|documents/[^/]+/ai/)"
# Extra bytes a document's JSON request may carry beyond 6 bytes per
# character of body: documents/views.py refuses more than that itself.
DOCUMENT_ENVELOPE_BYTES = 65_536


def regex_greater_than(limit: int) -> str:
    """Return a regex matching the decimal integers (no sign) above ``limit``.

    WAF compares a header's text, not its number: this is how a rule reads
    ``Content-Length > limit``. Leading zeros are not matched (no client
    sends them; the app still enforces its own limit).
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    digits = str(limit)
    width = len(digits)
    # Any number with more digits than the limit.
    branches = [rf"[1-9]\d{{{width},}}"]
    # Same width: equal up to position i, then a larger digit, then anything.
    for i, char in enumerate(digits):
        digit = int(char)
        if digit == 9:
            continue
        low = digit + 1
        larger = f"[{low}-9]" if low < 9 else "9"
        rest = width - i - 1
        branches.append(digits[:i] + larger + (rf"\d{{{rest}}}" if rest else ""))
    return "^(?:" + "|".join(branches) + ")$"


class WafStack(Stack):
    """A web ACL for the distribution: rate limit, body sizes, managed rules."""

    def __init__(
        self, scope: Construct, cid: str, *, config: StageConfig, **kwargs
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        self.config = config
        document_limit = config.documents_max_body_bytes * 6 + DOCUMENT_ENVELOPE_BYTES
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.prefix}-edge",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=self._visibility("web-acl"),
            custom_response_bodies={
                "too-many-requests": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON",
                    content=json.dumps(
                        {"detail": "Too many requests.", "code": "throttled"}
                    ),
                ),
                "too-large": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON",
                    content=json.dumps(
                        {
                            "detail": "The request body is too large.",
                            "code": "request_too_large",
                        }
                    ),
                ),
            },
            rules=[
                self._rate_limit(0),
                # The app's own limits (AI_MAX_BODY_BYTES; a document's body
                # at 6 bytes per character plus the envelope), refused at the
                # edge before they cost a request downstream.
                self._body_limit(
                    "ai-body-too-large", 1, config.ai_max_body_bytes, ai_only=True
                ),
                self._body_limit("body-too-large", 2, document_limit),
                # Uploads go to S3 directly and documents and prompts exceed
                # the 8 KB body rule; the two rules above replace it.
                self._managed(
                    "AWSManagedRulesCommonRuleSet", 3, ["SizeRestrictions_BODY"]
                ),
                self._managed("AWSManagedRulesKnownBadInputsRuleSet", 4),
                self._managed("AWSManagedRulesAmazonIpReputationList", 5),
            ],
        )
        self.web_acl_arn = self.web_acl.attr_arn

    def _visibility(self, name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True,
            metric_name=f"{self.config.prefix}-{name}",
            sampled_requests_enabled=True,
        )

    def _block(self, code: int, body: str) -> wafv2.CfnWebACL.RuleActionProperty:
        return wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=code, custom_response_body_key=body
                )
            )
        )

    def _rate_limit(self, priority: int) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name="rate-limit-per-client",
            priority=priority,
            action=self._block(429, "too-many-requests"),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=self.config.waf_rate_limit,
                    evaluation_window_sec=300,
                    # The viewer's address as CloudFront saw it: no header
                    # the client could choose.
                    aggregate_key_type="IP",
                )
            ),
            visibility_config=self._visibility("rate-limit"),
        )

    def _body_limit(
        self, name: str, priority: int, limit: int, *, ai_only: bool = False
    ) -> wafv2.CfnWebACL.RuleProperty:
        too_long = wafv2.CfnWebACL.StatementProperty(
            regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                    single_header={"Name": "content-length"}
                ),
                regex_string=regex_greater_than(limit),
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                ],
            )
        )
        statement = too_long
        if ai_only:
            on_ai_path = wafv2.CfnWebACL.StatementProperty(
                regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                    regex_string=AI_PATH_REGEX,
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(
                            priority=0, type="NONE"
                        )
                    ],
                )
            )
            statement = wafv2.CfnWebACL.StatementProperty(
                and_statement=wafv2.CfnWebACL.AndStatementProperty(
                    statements=[on_ai_path, too_long]
                )
            )
        return wafv2.CfnWebACL.RuleProperty(
            name=name,
            priority=priority,
            action=self._block(413, "too-large"),
            statement=statement,
            visibility_config=self._visibility(name),
        )

    def _managed(
        self, name: str, priority: int, overrides: list[str] | None = None
    ) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=name,
            priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS",
                    name=name,
                    rule_action_overrides=[
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name=rule,
                            action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                        )
                        for rule in overrides or []
                    ]
                    or None,
                )
            ),
            visibility_config=self._visibility(name),
        )
