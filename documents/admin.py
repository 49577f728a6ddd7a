"""Admin for content oversight: read-only content, grants, history, trash actions.

Grants edited in the document's page go through the sharing services, like
the API's: ``access_grant`` (email normalised, the user linked or an
invitation sent, ``invited_by`` set to the staff member), ``access_update``
and ``access_revoke``. Django's change message and admin log record them.
"""

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from documents import selectors, services
from documents.models import Document, DocumentAccess, DocumentRevision
from project.adminlinks import linked, list_link, user_admin_add_field
from project.exceptions import ApplicationError


class TrashedFilter(admin.SimpleListFilter):
    title = _("in trash")
    parameter_name = "trashed"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(trashed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(trashed_at__isnull=True)
        return queryset


class SharedFilter(admin.SimpleListFilter):
    title = _("shared")
    parameter_name = "shared"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        shared = Exists(DocumentAccess.objects.filter(document=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(shared)
        if self.value() == "no":
            return queryset.exclude(shared)
        return queryset


class DocumentAccessForm(forms.ModelForm):
    """One grant: the email is chosen once; changing it is revoke and re-share."""

    class Meta:
        model = DocumentAccess
        fields = ["email", "role"]

    def __init__(self, *args, is_existing: bool = False, **kwargs) -> None:  # noqa: D107
        super().__init__(*args, **kwargs)
        if is_existing:
            self.fields["email"].disabled = True

    def clean_email(self) -> str:
        """Return the address as the sharing service stores it (lower-cased)."""
        return self.cleaned_data["email"].strip().lower()

    def validate_unique(self) -> None:
        """Check uniqueness for new grants only.

        A stored grant's email cannot change here (its field is disabled) and
        its role is in no constraint, so checking it again would cost one
        query per grant on every save of the page. New grants are checked
        here, by the formset's ``clean`` and by ``access_grant``.
        """
        if not self.fields["email"].disabled:
            super().validate_unique()


class StoredGrantField(forms.ModelChoiceField):
    """A posted grant id, found among the formset's grants: no query per row.

    Django's formsets check each row's id with one query; the page's grants
    are already loaded (``get_queryset``), so they are looked up there. An id
    that is not one of this document's grants is an invalid choice.
    """

    def __init__(self, *args, stored: dict[str, DocumentAccess], **kwargs) -> None:  # noqa: D107
        super().__init__(*args, **kwargs)
        self.stored = stored

    def to_python(self, value):
        """Return the stored grant with the posted id."""
        if value in self.empty_values:
            return None
        access = self.stored.get(str(value).replace("-", "").lower())
        if access is None:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return access


class DocumentAccessFormSet(forms.BaseInlineFormSet):
    """Refuse what ``access_grant`` would: the owner's address, an address twice."""

    def get_form_kwargs(self, index):
        """Tell each form whether it shows a stored grant (UUIDs exist before saving)."""
        kwargs = super().get_form_kwargs(index)
        kwargs["is_existing"] = index is not None and index < self.initial_form_count()
        return kwargs

    def add_fields(self, form, index) -> None:
        """Check posted grant ids against the loaded grants (see ``StoredGrantField``)."""
        super().add_fields(form, index)
        name = self.model._meta.pk.name
        field = form.fields[name]
        form.fields[name] = StoredGrantField(
            field.queryset,
            initial=field.initial,
            required=False,
            widget=field.widget,
            stored=self.stored_grants,
        )

    @cached_property
    def stored_grants(self) -> dict[str, DocumentAccess]:
        """Return the document's grants (the formset's queryset) by hex id."""
        return {access.pk.hex: access for access in self.get_queryset()}

    def clean(self) -> None:
        """Check the new grants against the owner and each other."""
        super().clean()
        owner_email = (self.instance.owner.email or "").lower()
        existing = {form.instance.email for form in self.initial_forms}
        seen: set[str] = set()
        for form in self.extra_forms:
            email = form.cleaned_data.get("email") if form.has_changed() else None
            if not email or form.cleaned_data.get("DELETE"):
                continue
            if email == owner_email:
                form.add_error("email", _("The owner already has full access."))
            elif email in existing or email in seen:
                form.add_error("email", _("This address already has a grant."))
            seen.add(email)
        if any(form.errors for form in self.forms):
            raise ValidationError(_("Please correct the grants below."))


class DocumentAccessInline(admin.TabularInline):
    model = DocumentAccess
    form = DocumentAccessForm
    formset = DocumentAccessFormSet
    fk_name = "document"
    extra = 0
    fields = ["email", "user", "role", "invited_by", "created_at"]
    readonly_fields = ["user", "invited_by", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "invited_by")


class DocumentRevisionInline(admin.TabularInline):
    model = DocumentRevision
    extra = 0
    fields = [
        "number",
        "title",
        "author",
        "size_bytes",
        "restored_from",
        "merge_base_version",
        "merge_current_version",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").defer("body")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        linked("owner", description=_("owner"), ordering="owner__email"),
        "version",
        "grant_count",
        "updated_at",
        "trashed_at",
    ]
    list_select_related = ["owner"]
    list_filter = [TrashedFilter, SharedFilter, "updated_at"]
    search_fields = ["title", "owner__email"]
    date_hierarchy = "updated_at"
    ordering = ["-updated_at", "-pk"]
    # Content changes go through the API (revisions, If-Match), never here.
    readonly_fields = [
        "owner",
        "title",
        "body",
        "version",
        "last_editor",
        "created_at",
        "updated_at",
        "trashed_at",
        "related_links",
    ]
    fields = readonly_fields
    inlines = [DocumentAccessInline, DocumentRevisionInline]
    actions = ["restore_from_trash", "purge"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("body")
            .annotate(grant_count=Count("accesses"))
        )

    @admin.display(description=_("grants"), ordering="grant_count")
    def grant_count(self, obj) -> int:
        return obj.grant_count

    @admin.display(description=_("attachments and AI requests"))
    def related_links(self, obj: Document) -> str:
        """Link to the document's attachments and its rows in the AI ledger."""
        count = obj.attachments.count()
        return format_html(
            "{} · {}",
            list_link(
                apps.get_model("attachments", "Attachment"),
                ngettext("%(n)s attachment", "%(n)s attachments", count) % {"n": count},
                document=obj.pk,
            ),
            list_link(
                apps.get_model("aiproxy", "UsageRecord"),
                _("AI requests on this document"),
                document=obj.pk,
            ),
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting must run the purge hooks: use the "purge" action.
        return False

    def save_model(self, request, obj, form, change) -> None:
        """Save nothing: every field of a document is read-only here."""

    def save_formset(self, request, form, formset, change) -> None:
        """Apply grant changes through the sharing services, never ``formset.save``.

        The formset's ``new_objects``/``changed_objects``/``deleted_objects``
        are filled as ``BaseModelFormSet.save`` would, so that Django's change
        message (and the admin log entry) says what happened.
        """
        if formset.model is not DocumentAccess:
            formset.save()
            return
        document = form.instance
        formset.new_objects, formset.changed_objects = [], []
        formset.deleted_objects = []
        changed = [
            inline_form
            for inline_form in formset.initial_forms
            if inline_form in formset.deleted_forms
            or "role" in inline_form.changed_data
        ]
        # The stored grants, not the forms' instances (already holding the
        # posted values), so the services see what changes: one query.
        stored = (
            {access.pk: access for access in selectors.access_list(document=document)}
            if changed
            else {}
        )
        for inline_form in changed:
            access = stored.get(inline_form.instance.pk)
            if access is None:
                continue  # revoked meanwhile (another tab, the API)
            if inline_form in formset.deleted_forms:
                services.access_revoke(access=access)
                formset.deleted_objects.append(access)
            elif "role" in inline_form.changed_data:
                services.access_update(
                    access=access, role=inline_form.cleaned_data["role"]
                )
                formset.changed_objects.append((access, ["role"]))
        for inline_form in formset.extra_forms:
            if not inline_form.has_changed() or inline_form in formset.deleted_forms:
                continue
            try:
                access, _created = services.access_grant(
                    document=document,
                    by=request.user,
                    email=inline_form.cleaned_data["email"],
                    role=inline_form.cleaned_data["role"],
                )
            except ApplicationError as error:
                self.message_user(request, str(error.detail), messages.ERROR)
                continue
            formset.new_objects.append(access)

    @admin.action(description=_("Restore selected documents from the trash"))
    def restore_from_trash(self, request, queryset) -> None:
        restored = 0
        for document in queryset.filter(trashed_at__isnull=False):
            services.document_restore(document=document)
            restored += 1
        self.message_user(request, _("%d document(s) restored.") % restored)

    @admin.action(description=_("Purge selected trashed documents permanently"))
    def purge(self, request, queryset) -> None:
        ids = list(
            queryset.filter(trashed_at__isnull=False).values_list("pk", flat=True)
        )
        count = services.documents_purge(document_ids=ids)
        self.message_user(
            request,
            _("%d trashed document(s) purged; documents not in the trash are kept.")
            % count,
            level=messages.WARNING,
        )


@admin.display(description=_("Their documents"))
def user_documents(user) -> str:
    """Link to the documents the user owns, with counts (trash included)."""
    if user is None or user.pk is None:
        return "-"
    counts = Document.objects.filter(owner=user).aggregate(
        owned=Count("id"), trashed=Count("id", filter=Q(trashed_at__isnull=False))
    )
    grants = DocumentAccess.objects.filter(user=user).count()
    return format_html(
        "{} · {}",
        list_link(
            Document,
            ngettext(
                "%(n)s document owned (%(t)s in the trash)",
                "%(n)s documents owned (%(t)s in the trash)",
                counts["owned"],
            )
            % {"n": counts["owned"], "t": counts["trashed"]},
            owner=user.pk,
        ),
        ngettext(
            "%(n)s document shared with them",
            "%(n)s documents shared with them",
            grants,
        )
        % {"n": grants},
    )


user_admin_add_field(
    name="user_documents", display=user_documents, section=_("Documents")
)
