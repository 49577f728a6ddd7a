"""Small helpers shared by the stacks."""

from aws_cdk import aws_logs as logs

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
}


def retention(days: int) -> logs.RetentionDays:
    """Map a day count onto one of CloudWatch's allowed retention periods."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(
            f"logRetentionDays must be one of {sorted(_RETENTION)}, got {days}"
        ) from None
