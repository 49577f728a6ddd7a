"""English formats, with times to the second and their zone (admin, templates).

Django's own English formats show "Dec. 3, 2026, 6:21 p.m.": minutes only
and no zone. ``T`` is the zone's abbreviation (``UTC``).
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
