from decimal import Decimal

from django.utils import timezone

import factory

from aiproxy.models import AIModel, UsageRecord, UserQuota


class AIModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIModel

    name = factory.Sequence(lambda n: f"model-{n}")
    provider = "fake"
    upstream_model = factory.Sequence(lambda n: f"upstream-{n}")
    is_enabled = True
    context_limit = 8192
    max_output_tokens = 2048
    input_price = Decimal("0.000001")
    output_price = Decimal("0.000002")


class UserQuotaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserQuota

    user = factory.SubFactory("accounts.tests.factories.UserFactory")
    tokens_per_month = 100_000
    requests_per_minute = 1000


class UsageRecordFactory(factory.django.DjangoModelFactory):
    """A settled ledger row (``ok``), as a finished request leaves it."""

    class Meta:
        model = UsageRecord

    user = factory.SubFactory("accounts.tests.factories.UserFactory")
    model = factory.SubFactory(AIModelFactory)
    model_name = factory.LazyAttribute(lambda row: row.model.name if row.model else "")
    provider = factory.LazyAttribute(
        lambda row: row.model.provider if row.model else ""
    )
    period_start = factory.LazyFunction(lambda: timezone.now().date().replace(day=1))
    status = UsageRecord.Status.OK
    prompt_tokens = 100
    completion_tokens = 50
    cost = Decimal("0.0002000000")
    latency_ms = 120
    settled_at = factory.LazyFunction(timezone.now)
