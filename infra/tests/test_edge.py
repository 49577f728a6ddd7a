"""The request path, hop by hop: CloudFront → WAF → API Gateway → VPC link → ALB."""

import http.server
import json
import re
import subprocess
import sys
import threading

import pytest
from aws_cdk.assertions import Match

from quire_infra.waf import AI_PATH_REGEX, regex_greater_than


def methods(synth) -> list[dict]:
    """Return the API's methods' properties."""
    return [
        r["Properties"]
        for r in synth.resources("Service", "AWS::ApiGateway::Method").values()
    ]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_api_any_stage_is_one_regional_rest_api(stage, request):
    """A REST API (regional endpoint) with a stage named live."""
    template = request.getfixturevalue(stage).template("Service")
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"EndpointConfiguration": {"Types": ["REGIONAL"]}, "BinaryMediaTypes": ["*/*"]},
    )
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "live"})


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_api_any_stage_proxies_everything_over_the_vpc_link_to_the_alb(stage, request):
    """Root and {proxy+}: HTTP_PROXY over the VPC link V2, target the ALB, streamed."""
    synth = request.getfixturevalue(stage)
    found = methods(synth)
    assert len(found) == 2
    (link_id,) = synth.resources("Service", "AWS::ApiGatewayV2::VpcLink")
    (alb_id,) = synth.resources("Service", "AWS::ElasticLoadBalancingV2::LoadBalancer")
    domain = (
        "origin.quire.example.com"
        if stage == "prod"
        else "origin.dev.quire.example.com"
    )
    uris = set()
    for method in found:
        assert method["HttpMethod"] == "ANY"
        integration = method["Integration"]
        assert integration["Type"] == "HTTP_PROXY"
        assert integration["ConnectionType"] == "VPC_LINK"
        assert integration["ConnectionId"] == {"Ref": link_id}
        assert integration["IntegrationTarget"] == {"Ref": alb_id}
        assert integration["ResponseTransferMode"] == "STREAM"
        # Covers a long AI answer (aiStreamTimeoutSeconds).
        assert integration["TimeoutInMillis"] == 600_000
        uris.add(integration["Uri"])
    assert uris == {f"https://{domain}/", f"https://{domain}/{{proxy}}"}


def test_api_dev_vpc_link_sits_in_the_lb_subnets(dev):
    """The VPC link's interfaces are in the isolated lb subnets, in its own group."""
    (link,) = dev.resources("Service", "AWS::ApiGatewayV2::VpcLink").values()
    props = link["Properties"]
    assert all("lbSubnet" in s["Fn::ImportValue"] for s in props["SubnetIds"])
    (group,) = props["SecurityGroupIds"]
    assert "VpcLinkSg" in group["Fn::ImportValue"]


def test_api_dev_throttles_and_logs_json(dev):
    """The stage throttles (rate, burst) and writes JSON access logs."""
    (stage,) = dev.resources("Service", "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    (settings,) = props["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (
        200,
        400,
    )
    assert settings["DataTraceEnabled"] is False  # bodies never reach the logs
    fields = json.loads(props["AccessLogSetting"]["Format"])
    assert {"requestId", "ip", "status", "path", "integrationLatency"} <= fields.keys()
    assert (
        "ApiAccessLogs" in props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    )


def test_api_prod_with_domain_tells_the_app_the_public_host(prod, dev):
    """With a custom domain API Gateway sets X-Forwarded-Host to it, a constant."""
    for method in methods(prod):
        params = method["Integration"]["RequestParameters"]
        assert (
            params["integration.request.header.X-Forwarded-Host"]
            == "'quire.example.com'"
        )
    for method in methods(dev):
        assert "integration.request.header.X-Forwarded-Host" not in method[
            "Integration"
        ].get("RequestParameters", {})


def test_api_prod_tasks_trust_the_forwarded_host(prod):
    """The tasks are told to read X-Forwarded-Host (only API Gateway sets it)."""
    for resource in prod.resources("Service", "AWS::ECS::TaskDefinition").values():
        (container,) = resource["Properties"]["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["DJANGO_USE_X_FORWARDED_HOST"] == "true"


def test_api_dev_app_counts_the_three_forwarding_hops(dev):
    """CloudFront, API Gateway and the ALB each append to X-Forwarded-For."""
    for resource in dev.resources("Service", "AWS::ECS::TaskDefinition").values():
        (container,) = resource["Properties"]["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["API_NUM_PROXIES"] == "3"


# -- the internal ALB: nothing from the internet -----------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_path_any_stage_no_public_ingress_reaches_the_alb_or_tasks(stage, request):
    """No security group of the stage admits any address range at all."""
    synth = request.getfixturevalue(stage)
    for short in ("Network", "Service", "Data"):
        raw = synth.raw(short)["Resources"]
        for key, value in raw.items():
            rules = []
            if value["Type"] == "AWS::EC2::SecurityGroup":
                rules = value["Properties"].get("SecurityGroupIngress", [])
            elif value["Type"] == "AWS::EC2::SecurityGroupIngress":
                rules = [value["Properties"]]
            for rule in rules:
                assert "CidrIp" not in rule, key
                assert "CidrIpv6" not in rule, key
                assert "SourcePrefixListId" not in rule, key


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_path_any_stage_alb_serves_only_with_cloudfronts_header(stage, request):
    """Both forward rules need X-Origin-Verify; anything else gets the 403."""
    synth = request.getfixturevalue(stage)
    rules = synth.resources("Service", "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert len(rules) == 2
    for rule in rules.values():
        (header,) = [
            c for c in rule["Properties"]["Conditions"] if c["Field"] == "http-header"
        ]
        assert header["HttpHeaderConfig"]["HttpHeaderName"] == "X-Origin-Verify"
        assert "resolve:secretsmanager" in json.dumps(
            header["HttpHeaderConfig"]["Values"]
        )


def test_path_dev_has_no_dns_record_for_the_internal_alb(dev, prod):
    """The ALB has no public name: no Route 53 record points at it."""
    for synth in (dev, prod):
        for record in synth.resources("Service", "AWS::Route53::RecordSet").values():
            assert "Alb" not in json.dumps(record["Properties"]["AliasTarget"])


# -- the container health check (issue 20) ------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_containers_any_stage_services_check_healthz(stage, request):
    """api and ai containers carry an ECS health check on /healthz; migrate none."""
    synth = request.getfixturevalue(stage)
    for resource in {
        **synth.resources("Service", "AWS::ECS::TaskDefinition"),
        **synth.resources("Migration", "AWS::ECS::TaskDefinition"),
    }.values():
        (container,) = resource["Properties"]["ContainerDefinitions"]
        family = resource["Properties"]["Family"]
        if family.endswith("-migrate"):
            assert "HealthCheck" not in container
            continue
        check = container["HealthCheck"]
        command = check["Command"]
        assert command[:3] == ["CMD", "python", "-c"]
        assert "http://127.0.0.1:8000/healthz" in command[3]
        assert "'Host': 'localhost'" in command[3]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert "localhost" in env["DJANGO_ALLOWED_HOSTS"].split(",")
        assert (check["Interval"], check["Timeout"], check["Retries"]) == (30, 5, 3)
        assert check["StartPeriod"] == 60


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_containers_health_command_passes_only_on_200(dev, status, healthy):
    """The check's own Python exits 0 on a 200 from /healthz, non-zero otherwise."""
    (resource,) = [
        r
        for r in dev.resources("Service", "AWS::ECS::TaskDefinition").values()
        if r["Properties"]["Family"] == "quire-dev-api"
    ]
    (container,) = resource["Properties"]["ContainerDefinitions"]
    code = container["HealthCheck"]["Command"][3]
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's hook name
            seen.append((self.path, self.headers["Host"]))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        result = subprocess.run(  # noqa: S603 - this interpreter, the check's code
            [sys.executable, "-c", code.replace(":8000/", f":{port}/")],
            capture_output=True,
            timeout=30,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy
    assert seen == [("/healthz", "localhost")]


# -- WAF at the edge ------------------------------------------------------------


def web_acl(prod) -> dict:
    (acl,) = prod.resources("Waf", "AWS::WAFv2::WebACL").values()
    return acl["Properties"]


def test_waf_prod_lives_in_us_east_1_with_cloudfront_scope(prod):
    """The ACL is CLOUDFRONT-scope, in a stack deployed to us-east-1."""
    assert web_acl(prod)["Scope"] == "CLOUDFRONT"
    manifest = json.loads((prod.outdir / "manifest.json").read_text())
    environment = manifest["artifacts"]["Quire-prod-Waf"]["environment"]
    assert environment.endswith("/us-east-1")


def test_waf_prod_rate_limits_the_real_client_address(prod):
    """The rate rule keys on the viewer's IP (no header), and answers 429."""
    rules = {r["Name"]: r for r in web_acl(prod)["Rules"]}
    rate = rules["rate-limit-per-client"]["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP"
    assert "ForwardedIPConfig" not in rate
    assert rate["Limit"] == 2000
    block = rules["rate-limit-per-client"]["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429


def test_waf_prod_has_the_managed_rule_groups(prod):
    """Common (body-size rule counted), known bad inputs, IP reputation."""
    rules = {r["Name"]: r for r in web_acl(prod)["Rules"]}
    for name in (
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ):
        assert (
            rules[name]["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
        )
    overrides = rules["AWSManagedRulesCommonRuleSet"]["Statement"][
        "ManagedRuleGroupStatement"
    ]["RuleActionOverrides"]
    assert overrides == [
        {"ActionToUse": {"Count": {}}, "Name": "SizeRestrictions_BODY"}
    ]


def test_waf_prod_body_rules_follow_the_apps_limits(prod):
    """AI bodies over AI_MAX_BODY_BYTES, others over the document limit: 413."""
    rules = {r["Name"]: r for r in web_acl(prod)["Rules"]}
    ai = rules["ai-body-too-large"]["Statement"]["AndStatement"]["Statements"]
    assert ai[0]["RegexMatchStatement"]["RegexString"] == AI_PATH_REGEX
    assert ai[1]["RegexMatchStatement"]["RegexString"] == regex_greater_than(524_288)
    other = rules["body-too-large"]["Statement"]["RegexMatchStatement"]
    assert other["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    assert other["RegexString"] == regex_greater_than(1_048_576 * 6 + 65_536)
    for name in ("ai-body-too-large", "body-too-large"):
        assert rules[name]["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    body = json.loads(web_acl(prod)["CustomResponseBodies"]["too-large"]["Content"])
    assert body == {
        "detail": "The request body is too large.",
        "code": "request_too_large",
    }


@pytest.mark.parametrize("limit", [0, 9, 10, 99, 524_288, 999, 1000, 6_356_992])
def test_regex_greater_than_matches_exactly_the_larger_numbers(limit):
    """The Content-Length regex agrees with integer comparison around the limit."""
    pattern = re.compile(regex_greater_than(limit))
    candidates = {0, 1, limit, limit + 1, limit * 10, limit * 10 + 9}
    candidates |= {max(limit - d, 0) for d in (1, 9, 10, 11, 100)}
    candidates |= {limit + d for d in (1, 9, 10, 11, 100, 1000)}
    candidates |= set(range(0, 2000, 7))
    for number in sorted(candidates):
        assert bool(pattern.fullmatch(str(number))) == (number > limit), number


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        ("/api/v1/ai/chat/completions", True),
        ("/api/v1/documents/3f2a/ai/summarize/", True),
        ("/api/v1/documents/3f2a/", False),
        ("/api/v1/documents/3f2a/attachments/", False),
    ],
)
def test_waf_ai_path_regex_picks_the_ai_routes(path, matches):
    """The AI body rule applies to the AI routes only."""
    assert bool(re.search(AI_PATH_REGEX, path)) is matches


# -- CloudFront's alarm, in us-east-1 ----------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_edge_alarms_any_stage_watch_cloudfront_5xx_in_us_east_1(stage, request):
    """The CloudFront 5xx alarm reads the distribution's metric and notifies."""
    synth = request.getfixturevalue(stage)
    template = synth.template("EdgeAlarms")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/CloudFront",
            "MetricName": "5xxErrorRate",
            "Dimensions": Match.array_with([{"Name": "Region", "Value": "Global"}]),
            "AlarmActions": [Match.any_value()],
        },
    )
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    environment = manifest["artifacts"][f"Quire-{stage}-EdgeAlarms"]["environment"]
    assert environment.endswith("/us-east-1")
