"""Documents and the access grants that share them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from project.models import BaseModel


class Role(models.TextChoices):
    """What a caller may do with a document, weakest first."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}


class Document(BaseModel):
    """A Markdown document owned by one user; ``version`` guards every write."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    trashed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_editor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title


class DocumentAccess(BaseModel):
    """A grant of ``role`` on a document to a user, or a pending email invitation."""

    class GrantRole(models.TextChoices):
        VIEWER = Role.VIEWER.value, Role.VIEWER.label
        EDITOR = Role.EDITOR.value, Role.EDITOR.label

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="accesses"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="document_accesses",
    )
    email = models.EmailField(help_text="Who was invited (lower-cased).")
    role = models.CharField(max_length=16, choices=GrantRole.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The document's updated_at, copied by database triggers (migration 0006)
    # whenever a grant is made or the document changes, so a shared list page
    # reads its newest grants from an index instead of fetching every shared
    # document to sort it. Only ordering reads it, never access decisions.
    document_updated_at = models.DateTimeField(
        null=True,
        editable=False,
        help_text="Copy of the document's updated_at, kept by database triggers.",
    )

    class Meta:
        verbose_name = "document access"
        verbose_name_plural = "document accesses"
        constraints = [
            models.UniqueConstraint(
                fields=["document", "user"],
                condition=Q(user__isnull=False),
                name="documents_access_unique_user",
            ),
            models.UniqueConstraint(
                fields=["document", "email"], name="documents_access_unique_email"
            ),
        ]
        indexes = [
            models.Index(
                fields=["email"],
                condition=Q(user__isnull=True),
                name="documents_access_pending",
            ),
            models.Index(
                fields=["user", "-document_updated_at", "-document"],
                name="documents_access_user_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} {self.role} on {self.document_id}"


class DocumentRevision(BaseModel):
    """A saved state of a document's title and body; numbered from 1, never rewritten.

    ``updated_at`` moves when the same author's autosaves fold into the
    revision; ``restored_from`` is set on revisions made by a restore, the
    two ``merge_*`` versions on revisions made by a three-way merge of a
    stale save (documents/merge.py).
    """

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="revisions"
    )
    number = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, default="")
    size_bytes = models.PositiveIntegerField(default=0)
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    merge_base_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The document version the merged save started from.",
    )
    merge_current_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The document version the merged save was merged with.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document", "number"], name="documents_revision_unique_number"
            ),
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"#{self.number} of {self.document_id}"


class ShareLink(BaseModel):
    """A secret link that opens a document without a grant, while it lives.

    Only the SHA-256 of the secret is stored: the secret itself is shown
    once, when the link is created. A link is live until it is revoked or
    its ``expires_at`` passes; ``documents.visibility.link_role_for`` decides
    what it lets a caller do.
    """

    class Audience(models.TextChoices):
        ANYONE = "anyone", "Anyone with the link"
        SIGNED_IN = "signed_in", "Any signed-in user"

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="share_links"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    secret_hash = models.CharField(
        max_length=64, unique=True, editable=False, help_text="SHA-256 of the secret."
    )
    role = models.CharField(max_length=16, choices=DocumentAccess.GrantRole.choices)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["viewer", "editor"]),
                name="documents_sharelink_role",
            ),
            models.CheckConstraint(
                condition=Q(audience__in=["anyone", "signed_in"]),
                name="documents_sharelink_audience",
            ),
        ]
        indexes = [
            models.Index(
                fields=["document", "created_at"], name="documents_sharelink_doc"
            ),
            models.Index(
                fields=["created_by", "created_at"], name="documents_sharelink_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.audience} {self.role} link on {self.document_id}"


class DocumentVersion(BaseModel):
    """The title and body a document had at one ``version``: a merge base.

    Revisions fold a writer's autosaves together, so most versions a client
    may hold have no revision of their own. Every write records its version
    here, and the latest ``DOCUMENTS_MERGE_BASE_VERSIONS`` of each document
    are kept, so that a save sent with an older ``If-Match`` can be merged
    three-way with what was saved since (documents/merge.py).
    """

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document", "version"], name="documents_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} of {self.document_id}"
