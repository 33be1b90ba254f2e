"""Message catalogues: Simplified Chinese by default, English on request.

Catalogues are gettext ``.po`` files read with Babel at start-up (no compile step), one
per language, under a package's ``locale/<lang>/LC_MESSAGES/messages.po``. Message ids
are English sentences, so the English catalogue may leave a msgstr empty.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"


@lru_cache(maxsize=8)
def load_catalogue(locale_dir: str, lang: str) -> dict[str, str]:
    path = Path(locale_dir) / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def translator(locale_dir: Path, lang: str) -> Callable[..., str]:
    """A ``_(msgid, **params)`` function for one language; params fill ``{name}``."""
    table = load_catalogue(str(locale_dir), lang)

    def gettext(msgid: str, **params: object) -> str:
        text = table.get(msgid) or msgid
        return text.format(**params) if params else text

    return gettext


def negotiate(query_lang: str | None, cookie_lang: str | None, accept: str | None) -> str:
    """?lang= wins, then the remembered choice, then Accept-Language, then Chinese."""
    for choice in (query_lang, cookie_lang):
        picked = _match(choice)
        if picked:
            return picked
    if accept:
        ranked = []
        for i, part in enumerate(accept.split(",")):
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            ranked.append((-weight, i, tag.strip()))
        for _w, _i, tag in sorted(ranked):
            picked = _match(tag)
            if picked:
                return picked
    return DEFAULT_LANGUAGE


def _match(tag: str | None) -> str | None:
    if not tag:
        return None
    tag = tag.lower().replace("_", "-")
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None
