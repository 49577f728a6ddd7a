"""Operations: one SNS topic for every alarm, and a dashboard of the service."""

import re

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.data import DataStack
from quire_infra.maintenance import expected_interval_seconds
from quire_infra.migration import MigrationStack
from quire_infra.service import ServiceStack

GB = 1024**3
_NAME = re.compile(r"^[A-Za-z0-9_.\-/:#]+$")


def insights_sum(metric: str, namespace: str) -> str:
    """Return a Metrics Insights query summing ``metric`` over all its dimensions."""
    for value in (metric, namespace):
        if not _NAME.match(value):
            raise ValueError(f"not a CloudWatch metric or namespace name: {value!r}")
    return f'SELECT SUM("{metric}") FROM "{namespace}"'  # noqa: S608 - names checked above


class MonitoringStack(Stack):
    """Alarms (5xx rate, p99 latency, unhealthy hosts, DB storage/CPU, AI spend) and a dashboard."""

    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: StageConfig,
        data: DataStack,
        service: ServiceStack,
        migration: MigrationStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        self.config = config
        self.topic = sns.Topic(
            self, "Alarms", topic_name=f"{config.prefix}-alarms", enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(
                subscriptions.EmailSubscription(config.alarm_email)
            )
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        alb = service.load_balancer
        api = service.services["api"]
        ai = service.services["ai"]
        database = data.database
        five = Duration.minutes(5)
        minute = Duration.minutes(1)

        requests = alb.metrics.request_count(period=five)
        target_5xx = alb.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five
        )
        elb_5xx = alb.metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=five
        )
        error_rate = cloudwatch.MathExpression(
            label="5xx rate (%)",
            expression="IF(requests > 0, 100 * (FILL(t5xx, 0) + FILL(e5xx, 0)) / requests, 0)",
            using_metrics={"requests": requests, "t5xx": target_5xx, "e5xx": elb_5xx},
            period=five,
        )
        self._alarm(
            "Http5xxRate",
            error_rate,
            threshold=config.five_xx_rate_percent,
            evaluation_periods=2,
            description="More than the allowed share of requests answered 5xx",
        )
        api_p99 = api.target_group.metrics.target_response_time(
            statistic="p99", period=five
        )
        self._alarm(
            "ApiP99Latency",
            api_p99,
            threshold=config.p99_latency_seconds,
            evaluation_periods=3,
            description="p99 latency of the REST API (streams excluded) is too high",
        )
        for name, quire_service in (("Api", api), ("Ai", ai)):
            self._alarm(
                f"{name}UnhealthyHosts",
                quire_service.target_group.metrics.unhealthy_host_count(
                    statistic="Maximum", period=minute
                ),
                threshold=1,
                evaluation_periods=3,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=f"A {name.lower()} task fails /readyz",
            )
            # No task registered at all sends no UnhealthyHostCount: count
            # the healthy ones, and take silence for none.
            self._alarm(
                f"{name}NoHealthyHosts",
                quire_service.target_group.metrics.healthy_host_count(
                    statistic="Minimum", period=minute
                ),
                threshold=1,
                evaluation_periods=3,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
                description=f"No healthy {name.lower()} task behind the ALB",
            )
            self._alarm(
                f"{name}TaskMemory",
                quire_service.service.metric_memory_utilization(
                    statistic="Maximum", period=five
                ),
                threshold=config.task_memory_alarm_percent,
                evaluation_periods=3,
                description=f"The {name.lower()} tasks are close to their memory limit",
            )
        self._alarm(
            "DbFreeStorage",
            database.metric_free_storage_space(statistic="Minimum", period=five),
            threshold=config.db_free_storage_alarm_gb * GB,
            evaluation_periods=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="The database is running out of storage",
        )
        self._alarm(
            "DbConnections",
            database.metric_database_connections(statistic="Maximum", period=five),
            threshold=config.db_connections_alarm,
            evaluation_periods=2,
            description="Database connections are close to max_connections",
        )
        self._alarm(
            "DbFreeableMemory",
            database.metric_freeable_memory(statistic="Minimum", period=five),
            threshold=config.db_freeable_memory_alarm_mb * 1024 * 1024,
            evaluation_periods=3,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="The database instance is running out of memory",
        )
        api_5xx = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={
                "ApiName": service.api.rest_api_name,
                "Stage": service.api.deployment_stage.stage_name,
            },
            statistic="Average",
            period=five,
        )
        self._alarm(
            "ApiGateway5xxRate",
            # 5XXError's average is the share of requests answered 5xx.
            cloudwatch.MathExpression(
                label="API Gateway 5xx rate (%)",
                expression="100 * FILL(m, 0)",
                using_metrics={"m": api_5xx},
                period=five,
            ),
            threshold=config.five_xx_rate_percent,
            evaluation_periods=2,
            description="More than the allowed share of API Gateway requests answered 5xx",
        )
        self._maintenance_alarms(migration)
        self._alarm(
            "DbCpu",
            database.metric_cpu_utilization(period=five),
            threshold=80,
            evaluation_periods=3,
            description="The database CPU is saturated",
        )
        # The app writes AI usage as EMF records (any dimensions); Metrics
        # Insights sums them across dimensions.
        ai_cost = cloudwatch.MathExpression(
            label="AI spend (USD/hour)",
            expression=insights_sum(
                config.ai_cost_metric_name, config.metrics_namespace
            ),
            period=Duration.hours(1),
            using_metrics={},
        )
        self._alarm(
            "AiSpend",
            ai_cost,
            # A whole day's share of the monthly budget spent in one hour.
            threshold=round(config.ai_monthly_budget_usd / 30, 2),
            evaluation_periods=1,
            description="AI provider spend is running far above the monthly budget",
        )
        # Works from the token counts the AI proxy writes today; a provider-
        # independent brake when the cost metric is absent or mispriced.
        ai_tokens = cloudwatch.MathExpression(
            label="AI tokens (per hour)",
            expression=insights_sum(
                config.ai_tokens_metric_name, config.metrics_namespace
            ),
            period=Duration.hours(1),
            using_metrics={},
        )
        self._alarm(
            "AiTokenVolume",
            ai_tokens,
            threshold=config.ai_hourly_tokens_alarm,
            evaluation_periods=1,
            description="AI token volume in one hour is far above normal",
        )
        self._dashboard(service, data, error_rate, ai_tokens)

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        evaluation_periods: int,
        description: str,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        datapoints_to_alarm: int | None = None,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_name=f"{self.config.prefix}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
            datapoints_to_alarm=datapoints_to_alarm,
            # A paused stage runs nothing on purpose: no pages for that.
            actions_enabled=not self.config.paused,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[name] = alarm
        return alarm

    def _maintenance_alarms(self, migration: MigrationStack) -> None:
        """Alarm on a failed maintenance run, and on each one that did not run."""

        def matched(rule_name: str, period: Duration) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="MatchedEvents",
                dimensions_map={"RuleName": rule_name},
                statistic="Sum",
                period=period,
            )

        self._alarm(
            "MaintenanceFailed",
            matched(migration.failed_rule.rule_name, Duration.minutes(5)),
            threshold=1,
            evaluation_periods=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="A scheduled maintenance task exited non-zero or never started",
        )
        for name, job in migration.jobs.items():
            # Two whole periods without a success: at least one run missed
            # (one period alone may be the current, not yet run one).
            period = Duration.seconds(expected_interval_seconds(job.expression))
            self._alarm(
                "Missed" + "".join(part.capitalize() for part in name.split("_")),
                matched(job.succeeded.rule_name, period),
                threshold=1,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
                description=f"manage.py {name} has not succeeded on its schedule",
            )

    def _dashboard(
        self,
        service: ServiceStack,
        data: DataStack,
        error_rate: cloudwatch.IMetric,
        ai_tokens: cloudwatch.IMetric,
    ) -> None:
        config = self.config
        five = Duration.minutes(5)
        api = service.services["api"]
        ai = service.services["ai"]
        latency = [
            tg.metrics.target_response_time(
                statistic=stat, period=five, label=f"{name} {stat}"
            )
            for name, tg in (("api", api.target_group), ("ai", ai.target_group))
            for stat in ("p50", "p99")
        ]
        tasks = [
            tg.metrics.healthy_host_count(period=five, label=f"{name} healthy tasks")
            for name, tg in (("api", api.target_group), ("ai", ai.target_group))
        ]
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.prefix,
            default_interval=Duration.hours(24),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Latency (s)", left=latency, width=12),
            cloudwatch.GraphWidget(
                title="5xx",
                left=[
                    service.load_balancer.metrics.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five
                    ),
                    service.load_balancer.metrics.http_code_elb(
                        elbv2.HttpCodeElb.ELB_5XX_COUNT, period=five
                    ),
                ],
                right=[error_rate],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tasks",
                left=tasks,
                right=[
                    service.load_balancer.metrics.request_count(
                        period=five, label="requests"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Database",
                left=[data.database.metric_cpu_utilization(period=five)],
                right=[data.database.metric_database_connections(period=five)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="AI tokens (EMF) and spend",
                left=[ai_tokens],
                right=[self.alarms["AiSpend"].metric],
                width=8,
            ),
        )
        namespace = config.metrics_namespace
        if not _NAME.match(namespace):  # pragma: no cover - insights_sum checked it
            raise ValueError(namespace)
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="5xx by route (app EMF)",
                left=[
                    cloudwatch.MathExpression(
                        label="Errors5xx",
                        expression=(
                            f'SELECT SUM(Errors5xx) FROM "{namespace}" '  # noqa: S608
                            "GROUP BY Route ORDER BY SUM() DESC LIMIT 10"
                        ),
                        period=five,
                        using_metrics={},
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Slowest routes, average ms (app EMF)",
                left=[
                    cloudwatch.MathExpression(
                        label="RequestLatency",
                        expression=(
                            f'SELECT AVG(RequestLatency) FROM "{namespace}" '  # noqa: S608
                            "GROUP BY Route ORDER BY AVG() DESC LIMIT 10"
                        ),
                        period=five,
                        using_metrics={},
                    )
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms.values()), width=24
            )
        )
