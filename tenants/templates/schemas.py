"""The SNMS template body (``POST``/``PUT /snms/api/v5/template``) as msgspec Structs,
for the OpenAPI. The handler reads the body raw and ``services.items.parse_item`` checks
it field by field, naming the item at fault; these Structs say what it accepts."""

from __future__ import annotations

from typing import Literal

import msgspec

ItemType = Literal["string", "int", "number", "date", "datetime", "url", "email", "bool", "enum"]


class ItemMetadata(msgspec.Struct, omit_defaults=True):
    type: ItemType = "string"
    minLength: int | None = None
    maxLength: int | None = None
    enum: list[str] | None = None  # the choices of an ``enum`` item


class TemplateItemIn(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    idIndex: int  # the value index the item fills, >= 2000
    idType: str | None = None  # the value type; the name when absent
    required: bool = False
    state: Literal[0, 1] = 1  # 0: disabled
    metadata: ItemMetadata | None = None


class TemplateWrite(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A tenant template, usually ``extends`` a node template (``code@version``)."""

    code: str
    name: str = ""
    extends: str = ""
    type: Literal[1, 2] = 2  # carrier type: 1 active, 2 passive
    industryCategory: str | None = None
    industrySpecific: str | None = None
    industryTrade: str | None = None
    industrySubclass: str | None = None
    items: list[TemplateItemIn] = msgspec.field(default_factory=list)
