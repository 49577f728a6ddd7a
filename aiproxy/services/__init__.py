"""The AI proxy's services, one module per concern.

- ``quota``: reserving a request's worst case and settling it, in the database;
- ``settlement``: settling requests from async code, gathered per hop;
- ``pipeline``: a completion from request to answer (whole or streamed);
- ``dbthreads``: the database threads async code runs ORM work on;
- ``account``: the AI part of a user's export and deletion.

Callers import from here.
"""

from aiproxy.services.account import usage_delete_for_user, usage_export_for_user
from aiproxy.services.calls import PreparedCall
from aiproxy.services.dbthreads import run_db
from aiproxy.services.pipeline import (
    completion_create,
    completion_prepare,
    completion_stream,
)
from aiproxy.services.quota import (
    Reservation,
    quota_release_stale,
    quota_reserve,
    quota_settle,
    usage_cost,
    user_quota_set,
)
from aiproxy.services.settlement import completion_abandon, quota_settle_many

__all__ = [
    "PreparedCall",
    "Reservation",
    "completion_abandon",
    "completion_create",
    "completion_prepare",
    "completion_stream",
    "quota_release_stale",
    "quota_reserve",
    "quota_settle",
    "quota_settle_many",
    "run_db",
    "usage_cost",
    "usage_delete_for_user",
    "usage_export_for_user",
    "user_quota_set",
]
