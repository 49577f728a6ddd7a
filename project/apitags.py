"""The API's areas: one OpenAPI tag each (imported by settings, so no Django)."""

API_TAGS = {
    "accounts": "The caller's own account: profile, export, sign-out, deletion.",
    "documents": "Documents: create, read, search, edit with `If-Match`, trash.",
    "sharing": "Who else may read or edit a document, invited by email.",
    "revisions": "A document's history: every save leaves a revision.",
    "attachments": "Files attached to documents: upload, verify, download.",
    "ai": "The AI gateway: OpenAI-compatible chat, models and usage, and AI "
    "actions on documents.",
}
