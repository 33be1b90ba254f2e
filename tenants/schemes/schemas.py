"""Request bodies of the schemes API (msgspec; unknown fields are refused) and its
answers (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from tenants.identifiers.schemas import ValueOut


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


# -- answers: the handlers build these, so the OpenAPI is what is sent -----------------
class NamespaceOut(msgspec.Struct, rename="camel"):
    scheme: str
    value: str
    status: str  # pending, verified, rejected
    created_at: datetime
    verified_at: datetime | None


class NamespaceList(msgspec.Struct):
    namespaces: list[NamespaceOut]


class CodeOut(msgspec.Struct, rename="camel"):
    scheme: str
    code: str
    handle: str
    created_at: datetime


class CodePage(msgspec.Struct, rename="camel"):
    total_count: int
    page: int
    codes: list[CodeOut]


class LinkOut(msgspec.Struct, rename="camel"):
    id: int
    key: str
    link_type: str
    href: str
    title: str
    language: str
    context: str
    media_type: str
    is_default: bool


class LinkList(msgspec.Struct):
    links: list[LinkOut]


class ItemOut(msgspec.Struct, rename="camel"):
    key: str
    description: str
    created_at: datetime
    updated_at: datetime


class ItemPage(msgspec.Struct, rename="camel"):
    total_count: int
    page: int
    items: list[ItemOut]


class MappingOut(msgspec.Struct, rename="camel"):
    private_code: str
    public: str
    handle: str
    created_at: datetime
    updated_at: datetime


class MappingWritten(MappingOut, rename="camel"):
    status: str  # created, updated, unchanged


class MappingPage(msgspec.Struct, rename="camel"):
    total_count: int
    page: int
    mappings: list[MappingOut]


class ItemError(msgspec.Struct):
    status: int
    title: str
    detail: str
    field: str | None


class MappingItemResult(msgspec.Struct, rename="camel", omit_defaults=True):
    """One item of a bulk mapping: ``error`` when it failed, else ``public`` and ``handle``."""

    index: int
    private_code: str | None
    status: str  # created, updated, unchanged, error
    error: ItemError | None = None
    public: str | None = None
    handle: str | None = None


class MappingBulkAnswer(msgspec.Struct):
    counts: dict[str, int]
    results: list[MappingItemResult]


class MappingResolved(MappingOut, rename="camel"):
    """``?private=``: the mapping and the record's values (null when it has none)."""

    values: list[ValueOut] | None


class PublicMappings(msgspec.Struct):
    """``?public=``: the private codes mapped to that identifier."""

    public: str
    mappings: list[MappingOut]
