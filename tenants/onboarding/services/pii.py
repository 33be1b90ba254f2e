"""Re-encryption of personal data at rest under the keyring's current key (core/crypto.py):
what ``idnest keys rotate`` runs after adding a key. Resident ID numbers of applicants'
contacts and staff TOTP secrets; rows already under the current key are left alone, so a
rotation that stopped half-way is finished by running it again."""

from __future__ import annotations

from typing import Any

from core import audit, crypto
from tenants.onboarding.tables import Application, UserTotp

PAGE = 1000
ENCRYPTED: tuple[tuple[Any, str], ...] = (
    (Application, "contact_id_enc"),
    (UserTotp, "secret_enc"),
)


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
        out[table._meta.tablename] = {"reencrypted": done, "unreadable": unreadable}
    await audit.record(actor=actor, action="keys.rotate", target=current, detail=out)
    return out
