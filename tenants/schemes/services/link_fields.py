"""The fields of a GS1 link, checked so that every stored link can be published.

What is accepted here is what GS1's linkset JSON schema accepts in a linkset
(https://ref.gs1.org/standards/resolver/linkset-schema, which GS1-Conformant resolvers'
linksets SHALL validate against): a link type is a GS1 Web Vocabulary term, or another
vocabulary's absolute URI made of letters, digits, ``.`` and ``/``; a language is a
two-letter code with an optional two-letter region. Refusing at the door is better
than a linkset a conformant checker rejects as a whole.
"""

from __future__ import annotations

import re

from core.errors import InvalidValue
from core.schemes.gs1_vocab import GS1_PREFIX, compact, link_type, vocabulary

#: GS1's conformance rules: a default link SHALL also carry a descriptive link type, and
#: the default is a flag of a link here, so these two are never a link's own type.
DEFAULT_TYPES = frozenset({"gs1:defaultLink", "gs1:defaultLinkMulti"})
#: The linkset schema's pattern for a link relation that is a URI.
_OTHER_LINK_TYPE = re.compile(r"^https?://[A-Za-z0-9./]+$")
#: The linkset schema's pattern for ``hreflang``: ``en`` or ``zh-CN``.
_LANGUAGE = re.compile(r"^[A-Za-z]{2}(-[A-Za-z]{2})?$")
_CONTEXT = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")
_MEDIA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
MAX_TITLE = 512


def normalise_link_type(text: str, field: str = "link_type") -> str:
    """``gs1:pip`` or ``https://gs1.org/voc/pip`` → ``gs1:pip``; another vocabulary's
    link type is kept as its absolute URI."""
    text = compact(text.strip())
    if text.startswith(GS1_PREFIX):
        if link_type(text) is None:
            raise InvalidValue(
                f"{field}: {text} is not a GS1 Web Vocabulary link type (e.g. gs1:pip; "
                f"vocabulary {vocabulary().version})",
                field=field,
            )
        if text in DEFAULT_TYPES:
            raise InvalidValue(
                f"{field}: {text} is not given as a link type here: give the link its "
                "descriptive type (e.g. gs1:pip) and set is_default; the linkset then "
                "lists the default link under gs1:defaultLink",
                field=field,
            )
        return text
    if _OTHER_LINK_TYPE.match(text) and len(text) <= 255:
        return text
    raise InvalidValue(
        f"{field}: give a GS1 link type such as gs1:pip, or another vocabulary's absolute "
        "URI of letters, digits, '.' and '/' (what GS1's linkset schema allows)",
        field=field,
    )


def check_href(href: str, field: str = "href") -> str:
    if len(href) > 2048 or not _URL.match(href):
        raise InvalidValue(
            f"{field}: must be an http(s) URL of at most 2048 characters", field=field
        )
    return href


def _check(pattern: re.Pattern[str], value: str, field: str, what: str) -> str:
    value = value.strip()
    if value and not pattern.match(value):
        raise InvalidValue(f"{field}: {value!r} is not {what}", field=field)
    return value


def clean_fields(
    *, link_type: str, href: str, title: str, language: str, context: str, media_type: str
) -> dict[str, str]:
    if len(title) > MAX_TITLE:
        raise InvalidValue(f"title: at most {MAX_TITLE} characters", field="title")
    lang = _check(
        _LANGUAGE,
        language,
        "language",
        "a language tag of two letters, with an optional two-letter region (en, zh-CN)",
    )
    return {
        "link_type": normalise_link_type(link_type),
        "href": check_href(href.strip()),
        "title": title.strip(),
        "language": lang.lower(),
        "context": _check(_CONTEXT, context, "context", "a context value (letters, digits, ._:-)"),
        "media_type": _check(
            _MEDIA, media_type, "media_type", "a media type such as text/html"
        ).lower(),
    }
