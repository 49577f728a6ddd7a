"""Outgoing mail through Amazon SES (django-ses) against moto's SES."""

import json
import urllib.request

from django.core import mail

import boto3
import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def ses(settings, moto_server):
    """Point django-ses at moto and verify the sender identity there."""
    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    settings.AWS_SES_REGION_ENDPOINT_URL = moto_server
    settings.AWS_SES_REGION_NAME = "us-east-1"
    settings.DEFAULT_FROM_EMAIL = "Quire <no-reply@quire.test>"
    boto3.client("ses", endpoint_url=moto_server).verify_email_identity(
        EmailAddress="no-reply@quire.test"
    )
    return moto_server


def _sent_messages(moto_url: str) -> list[dict]:
    """Return the raw messages moto's SES accepted (its data dump)."""
    url = f"{moto_url}/moto-api/data.json"
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback http
        return json.load(r)["ses"]["RawMessage"]


def test_send_mail_ses_backend_message_in_moto_sent_list(ses):
    """send_mail with the SES backend hands the message to SES, from settings' sender."""
    before = len(_sent_messages(ses))
    count = mail.send_mail(
        "You were invited",
        "Open Quire to see the document.",
        None,
        ["friend@example.com"],
    )
    assert count == 1
    sent = _sent_messages(ses)[before:]
    assert len(sent) == 1
    assert sent[0]["source"] == "Quire <no-reply@quire.test>"
    assert "friend@example.com" in sent[0]["destinations"]
    assert "Subject: You were invited" in sent[0]["raw_data"]
    assert "From: Quire <no-reply@quire.test>" in sent[0]["raw_data"]


def test_send_mail_ses_unverified_sender_raises(settings, ses):
    """A sender SES has not verified is refused, and the caller hears of it."""
    settings.DEFAULT_FROM_EMAIL = "someone@unverified.test"
    before = len(_sent_messages(ses))
    with pytest.raises(Exception, match="not verified|MessageRejected"):
        mail.send_mail("Hi", "Body", None, ["friend@example.com"])
    assert len(_sent_messages(ses)) == before
