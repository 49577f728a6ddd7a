from decimal import Decimal

import factory

from aiproxy.models import AIModel, UserQuota


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
