from decimal import Decimal

from django.utils import timezone

import factory

from aiproxy.models import AIModel, UsageRecord, UserQuota
from aiproxy.selectors import period_start_for


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
    """A settled ledger row (``ok``), as a finished request leaves it.

    ``at=`` backdates it: its ``created_at`` and its quota month.
    """

    class Meta:
        model = UsageRecord

    class Params:
        at = None

    user = factory.SubFactory("accounts.tests.factories.UserFactory")
    model = factory.SubFactory(AIModelFactory)
    model_name = factory.LazyAttribute(lambda row: row.model.name if row.model else "")
    provider = factory.LazyAttribute(
        lambda row: row.model.provider if row.model else ""
    )
    period_start = factory.LazyAttribute(
        lambda row: period_start_for(row.at or timezone.now())
    )
    status = UsageRecord.Status.OK
    prompt_tokens = 100
    completion_tokens = 50
    cost = Decimal("0.0002000000")
    latency_ms = 120
    settled_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyAttribute(lambda row: row.at)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Create the row, then move ``created_at`` (``auto_now_add`` ignores it)."""
        at = kwargs.pop("created_at", None)
        record = super()._create(model_class, *args, **kwargs)
        if at is not None:
            model_class.objects.filter(pk=record.pk).update(created_at=at)
            record.created_at = at
        return record
