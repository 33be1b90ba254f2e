"""Request bodies of the schemes API (msgspec; unknown fields are refused)."""

from __future__ import annotations

import msgspec


class NamespaceIn(msgspec.Struct, forbid_unknown_fields=True):
    scheme: str
    value: str | None = None


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    handle: str | None = None
    url: str | None = None
    link_type: str = "gs1:pip"
    title: str = ""


class LinkIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    link_type: str
    href: str
    title: str = ""
    language: str = ""
    context: str = ""
    media_type: str = ""
    is_default: bool | None = None


class LinkPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    link_type: str | msgspec.UnsetType = msgspec.UNSET
    href: str | msgspec.UnsetType = msgspec.UNSET
    title: str | msgspec.UnsetType = msgspec.UNSET
    language: str | msgspec.UnsetType = msgspec.UNSET
    context: str | msgspec.UnsetType = msgspec.UNSET
    media_type: str | msgspec.UnsetType = msgspec.UNSET
    is_default: bool | msgspec.UnsetType = msgspec.UNSET


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    description: str


class MappingIn(msgspec.Struct, forbid_unknown_fields=True):
    private_code: str
    public: str
