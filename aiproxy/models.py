"""The model catalogue, the usage ledger and per-user quota state.

Prompts and answers are never stored: the ledger keeps counts, cost and
timing only. Shared quota state lives in :class:`QuotaCounter` rows (one per
user and month) so every process and task sees the same numbers.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from project.models import BaseModel


class AIModel(BaseModel):
    """A public model name mapped to a provider's model, with its prices."""

    name = models.CharField(
        max_length=100, unique=True, help_text="Public name clients send as `model`."
    )
    provider = models.CharField(
        max_length=50, help_text="A configured provider name (see AI_PROVIDERS)."
    )
    upstream_model = models.CharField(
        max_length=200, help_text="The provider's own model id."
    )
    is_enabled = models.BooleanField(default=True)
    context_limit = models.PositiveIntegerField(
        default=8192, validators=[MinValueValidator(1)]
    )
    max_output_tokens = models.PositiveIntegerField(
        default=4096,
        validators=[MinValueValidator(1)],
        help_text="Largest max_tokens accepted for this model.",
    )
    input_price = models.DecimalField(
        max_digits=18,
        decimal_places=12,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Price of one prompt token (USD).",
    )
    output_price = models.DecimalField(
        max_digits=18,
        decimal_places=12,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Price of one completion token (USD).",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "AI model"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse a provider that ``AI_PROVIDERS`` does not configure.

        A typo ("opena1") would otherwise save and the model answer 503
        ``ai_not_configured`` to every request.
        """
        super().clean()
        configured = sorted(settings.AI_PROVIDERS)
        if self.provider and self.provider not in configured:
            raise ValidationError(
                {
                    "provider": (
                        f'"{self.provider}" is not a configured provider. '
                        f"Configured: {', '.join(configured) or 'none'} "
                        "(the AI_PROVIDERS setting)."
                    )
                }
            )


class UserQuota(BaseModel):
    """A per-user override of the default quota; empty fields use the default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ai_quota"
    )
    tokens_per_month = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Empty: AI_TOKENS_PER_MONTH."
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: AI_REQUESTS_PER_MINUTE."
    )

    class Meta:
        verbose_name = "AI quota"

    def __str__(self) -> str:
        return f"AI quota of {self.user_id}"


class QuotaCounter(BaseModel):
    """One user's token counters for one month, and the current minute's requests.

    ``reserved_tokens`` holds the worst case of requests in flight;
    ``used_tokens`` what settled requests really consumed. Both are changed
    under ``select_for_update`` or with ``F()`` so concurrent requests on any
    process never overspend.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    period_start = models.DateField(help_text="First day (UTC) of the month.")
    reserved_tokens = models.BigIntegerField(default=0)
    used_tokens = models.BigIntegerField(default=0)
    minute_start = models.DateTimeField(null=True, blank=True)
    minute_requests = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period_start"], name="aiproxy_counter_user_period"
            ),
            models.CheckConstraint(
                condition=Q(reserved_tokens__gte=0) & Q(used_tokens__gte=0),
                name="aiproxy_counter_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period_start}"


class UsageRecord(BaseModel):
    """One AI request in the ledger: who, which model, how much, how it ended."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        OK = "ok", "OK"
        CANCELLED = "cancelled", "Cancelled by the client"
        ERROR = "error", "Upstream error"
        TIMEOUT = "timeout", "Upstream timeout"
        REFUSED = "refused", "Refused before the provider"

    class Action(models.TextChoices):
        NONE = "", "Chat"
        SUMMARIZE = "summarize", "Summarize"
        REWRITE = "rewrite", "Rewrite"
        TRANSLATE = "translate", "Translate"
        CONTINUE = "continue", "Continue"

    # The index on (user, -created_at) below serves lookups by user: no
    # second index on the column alone for every ledger write to maintain.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="ai_usage",
        db_index=False,
    )
    # No database constraint: checking it locked the model's row (FOR KEY
    # SHARE) in every request's transaction, one row shared by all requests
    # to that model. Deleting a model through Django still sets the field
    # to NULL (``on_delete``); ``model_name`` keeps what was asked for.
    model = models.ForeignKey(
        AIModel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    model_name = models.CharField(max_length=100, help_text="As requested.")
    provider = models.CharField(max_length=50)
    period_start = models.DateField(
        help_text="The quota month the reservation was taken from."
    )
    is_stream = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    error_code = models.CharField(max_length=50, blank=True)
    reserved_tokens = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=10, default=Decimal(0))
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.PositiveIntegerField(
        "time to first token (ms)", null=True, blank=True
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    document = models.ForeignKey(
        "documents.Document",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(
        max_length=16, choices=Action.choices, blank=True, default=""
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="aiproxy_usage_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} {self.status} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
