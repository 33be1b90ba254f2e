"""Cross-enterprise grants (跨企业授权): an owner tenant lets a partner tenant, or one OAuth2
client of it, read chosen restricted values of the owner's identifiers.

A grant names its selector: an identifier pattern (a glob on the suffix), a template
(the ``code`` or ``code@version`` a record declares at index 1001), or a value type.
Every door that shows restricted values asks ``services.access`` what a partner may see.
"""
