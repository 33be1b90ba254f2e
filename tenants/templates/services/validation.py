"""Records against their templates: a record that declares ``code@version`` at index 1001
(the SNMS convention) has its items (index >= 2000) checked against that template version.

Every write path (single records, batches, bulk jobs) calls ``validate_record``.
"""

from __future__ import annotations

import msgspec

from core.errors import InvalidValue
from core.values import HandleValue, ValueData
from tenants.templates.services.items import FIRST_ITEM_INDEX, check_value
from tenants.templates.services.templates import TEMPLATE_INDEX, Template, get_template


def check_against(template: Template, values: list[HandleValue]) -> None:
    """Validate a record's values against one template version; errors name the item."""
    by_index = {v.index: v for v in values}
    for item in template.items:
        value = by_index.get(item.index)
        if value is None:
            if item.required and item.state == 1:
                raise InvalidValue(
                    f"item {item.name!r} (index {item.index}, {item.id_type}) is required by "
                    f"template {template.ref}",
                    field=item.id_type,
                )
            continue
        check_value(item, value)
    for v in values:
        if v.index >= FIRST_ITEM_INDEX and v.index not in template.item_indices:
            raise InvalidValue(
                f"index {v.index} is not an item of template {template.ref}", field="values"
            )


async def validate_record(
    tenant_id: int, values: list[HandleValue], memo: dict[str, Template] | None = None
) -> list[HandleValue]:
    """Check a record that declares a template at index 1001; pin ``code`` to
    ``code@version``. Records without index 1001 are free-form and pass unchanged.
    ``memo`` (ref -> template) lets a batch look each declared template up once."""
    for declared in values:  # a loop, not next(genexpr): this runs for every bulk row
        if declared.index == TEMPLATE_INDEX:
            break
    else:
        return values
    if declared.data.format != "string" or not isinstance(declared.data.value, str):
        raise InvalidValue("index 1001 (template version) must be a string", field="values")
    ref = declared.data.value
    template = memo.get(ref) if memo is not None else None
    if template is None:
        template = await get_template(tenant_id, ref)
        if memo is not None:
            memo[ref] = template
    check_against(template, values)
    if declared.data.value == template.ref:
        return values
    pinned = _pin(declared, template.ref)
    return [pinned if v.index == TEMPLATE_INDEX else v for v in values]


def _pin(v: HandleValue, text: str) -> HandleValue:
    return msgspec.structs.replace(v, data=ValueData("string", text))
