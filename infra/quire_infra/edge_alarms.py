"""CloudFront's alarms, in us-east-1: the only region with CloudFront metrics.

A CloudWatch alarm reads metrics of its own region and notifies a topic of its
own region, so this stack has its own topic (with the same e-mail
subscription) and takes the distribution's id from the service stack through
``crossRegionReferences``.
"""

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.service import ServiceStack


class EdgeAlarmsStack(Stack):
    """An alarm on the distribution's 5xx rate, and the topic it notifies."""

    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: StageConfig,
        service: ServiceStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        self.topic = sns.Topic(
            self,
            "Alarms",
            topic_name=f"{config.prefix}-edge-alarms",
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(
                subscriptions.EmailSubscription(config.alarm_email)
            )
        errors = cloudwatch.Metric(
            namespace="AWS/CloudFront",
            metric_name="5xxErrorRate",
            dimensions_map={
                "DistributionId": service.distribution.distribution_id,
                "Region": "Global",
            },
            statistic="Average",
            period=Duration.minutes(5),
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "CloudFront5xxRate",
            alarm_name=f"{config.prefix}-CloudFront5xxRate",
            alarm_description=(
                "More than the allowed share of viewer requests answered 5xx "
                "(CloudFront's own errors and the origin's)"
            ),
            metric=errors,
            threshold=config.five_xx_rate_percent,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # No requests, no data: quiet. A dead origin still answers 5xx.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        self.alarm.add_alarm_action(action)
        self.alarm.add_ok_action(action)
