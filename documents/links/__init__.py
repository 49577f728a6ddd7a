"""Share links: a secret URL that opens one document, with a role, while it lives.

``services`` creates and revokes links, ``selectors`` lists them and opens a
document by its secret, ``views`` is the API. The model is
``documents.models.ShareLink``; what a link allows is decided in
``documents.visibility.link_role_for``.
"""
