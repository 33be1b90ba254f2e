"""Personal data at rest (core/crypto.py): how a contact's mobile number is stored, and
the re-encryption under the keyring's current key that ``idnest keys rotate`` runs after
adding a key. Resident ID numbers and mobile numbers of applicants' contacts and staff
TOTP secrets; rows already under the current key are left alone, so a rotation that
stopped half-way is finished by running it again."""

from __future__ import annotations

from typing import Any

from core import audit, crypto
from core.codes import mask_mobile
from tenants.onboarding.tables import Application, UserTotp

PAGE = 1000
ENCRYPTED: tuple[tuple[Any, str], ...] = (
    (Application, "contact_id_enc"),
    (Application, "contact_mobile_enc"),
    (UserTotp, "secret_enc"),
)


def is_masked(mobile: str) -> bool:
    """A form sent back with the stored number's mask: the number stays as it is."""
    return "*" in mobile


def mobile_columns(mobile: str) -> dict[Any, Any]:
    """The columns a contact mobile number is written to: its mask in ``contact_mobile``,
    the number encrypted in ``contact_mobile_enc``; nothing for a mask sent back."""
    if is_masked(mobile):
        return {}
    return {
        Application.contact_mobile: mask_mobile(mobile),
        Application.contact_mobile_enc: crypto.encrypt(mobile),
    }


async def reencrypt_all(*, actor: str = "cli") -> dict[str, Any]:
    """Re-encrypt every ciphertext not under the current key; counts per table, and
    how many no key of the ring opens (left as they are)."""
    current = crypto.current_key_id()
    out: dict[str, Any] = {"key": current}
    for table, name in ENCRYPTED:
        column = getattr(table, name)
        done = unreadable = 0
        last = 0
        while True:
            rows = await (
                table.select(table.id, column)
                .where((table.id > last) & (column != ""))
                .order_by(table.id).limit(PAGE).run()
            )  # fmt: skip
            for row in rows:
                last = row["id"]
                token = row[name]
                if not token or crypto.key_id(token) == current:
                    continue
                plain = crypto.decrypt(token)
                if plain is None:
                    unreadable += 1
                    continue
                async with table._meta.db.transaction():
                    await (
                        table.update({column: crypto.encrypt(plain)})
                        .where((table.id == row["id"]) & (column == token))
                        .run()
                    )
                done += 1
            if len(rows) < PAGE:
                break
        counts = out.setdefault(table._meta.tablename, {"reencrypted": 0, "unreadable": 0})
        counts["reencrypted"] += done
        counts["unreadable"] += unreadable
    await audit.record(actor=actor, action="keys.rotate", target=current, detail=out)
    return out
