"""Shared model bases."""

import uuid

from django.conf import settings
from django.db import models


class BaseModel(models.Model):
    """A UUID primary key plus creation and update times."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ThrottleBucket(models.Model):
    """One fixed-window request counter per ``scope:ident`` (see throttling.py).

    No ``BaseModel``: the row is rewritten by a raw UPSERT on every request,
    so it carries only what that statement needs.
    """

    key = models.CharField(max_length=255, primary_key=True)
    window_start = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.key


class IdempotencyKey(BaseModel):
    """A client's ``Idempotency-Key`` and the first final response given for it.

    ``response_status`` is null while the first request is still running.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    response_headers = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], name="idempotency_key_unique_per_user"
            ),
        ]

    def __str__(self) -> str:
        return self.key
