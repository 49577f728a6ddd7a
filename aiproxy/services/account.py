"""The AI part of a user's account: export and deletion."""

from typing import TYPE_CHECKING, Any

from aiproxy.models import QuotaCounter, UsageRecord, UserQuota
from aiproxy.selectors import usage_list_for
from project.fields import iso_utc

if TYPE_CHECKING:
    from accounts.models import User


def usage_export_for_user(user: "User") -> dict[str, Any]:
    """Return the user's ledger and quota override for the account export."""
    quota = UserQuota.objects.filter(user=user).first()
    return {
        "quota": {
            "tokens_per_month": quota.tokens_per_month,
            "requests_per_minute": quota.requests_per_minute,
        }
        if quota
        else None,
        "requests": [
            {
                "created_at": iso_utc(record.created_at),
                "model": record.model_name,
                "status": record.status,
                "prompt_tokens": record.prompt_tokens,
                "completion_tokens": record.completion_tokens,
                "cost": str(record.cost),
                "document": str(record.document_id) if record.document_id else None,
                "action": record.action,
            }
            for record in usage_list_for(user=user)
        ],
    }


def usage_delete_for_user(user: "User") -> None:
    """Delete the user's ledger, counters and quota override."""
    UsageRecord.objects.filter(user=user).delete()
    QuotaCounter.objects.filter(user=user).delete()
    UserQuota.objects.filter(user=user).delete()
