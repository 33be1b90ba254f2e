"""Checks on an application form, before anything is stored.

Errors are returned per field as an English message id plus parameters, so the portal
can translate them and show each next to its field. Nothing here touches the database;
duplicate and availability checks live in the service.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from core.codes import CodeError, mask_resident_id, validate_credit_code, validate_resident_id
from core.industries import division_codes

MAX_LICENCE_BYTES = 10 * 1024 * 1024
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_MASKED_MOBILE = re.compile(r"^1[3-9]\d\*{4}\d{4}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^[0-9A-Za-z]{1,32}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_RESERVED_TLDS = frozenset({"local", "localhost", "internal", "test", "example", "invalid", "lan"})
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
_CODE_MESSAGES = {
    "length": "The code has the wrong length.",
    "charset": "The code contains characters that are not allowed.",
    "check_digit": "The check character is wrong; please check the code.",
    "birth_date": "The birth date in the ID number is not valid.",
}


@dataclass
class Checked:
    """Cleaned values and per-field errors: ``errors[field] = (msgid, params)``."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, tuple[str, dict[str, object]]] = field(default_factory=dict)

    def fail(self, name: str, msgid: str, **params: object) -> None:
        self.errors.setdefault(name, (msgid, params))


def sniff_licence(data: bytes) -> str | None:
    """The content type of a PDF, JPEG or PNG by its first bytes, else None."""
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return ctype
    return None


def check_endpoint(entry: str) -> str | None:
    """An error message id for one public IP address or domain name, or None."""
    try:
        addr = ipaddress.ip_address(entry)
    except ValueError:
        addr = None
    if addr is not None:
        return None if addr.is_global else "{entry} is a private or reserved address."
    name = entry.lower().rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(lb) for lb in labels):
        return "{entry} is neither an IP address nor a domain name."
    if labels[-1] in _RESERVED_TLDS or labels[-1].isdigit():
        return "{entry} is not a public domain name."
    return None


def check_application(form: dict[str, str], *, need_password: bool) -> Checked:
    out = Checked()
    for name, limit in (
        ("company_name", 255),
        ("short_name", 64),
        ("region", 64),
        ("address", 512),
        ("contact_name", 64),
    ):
        value = form.get(name, "").strip()
        out.values[name] = value
        if not value:
            out.fail(name, "This field is required.")
        elif len(value) > limit:
            out.fail(name, "At most {limit} characters.", limit=limit)

    raw_code = form.get("credit_code", "")
    out.values["credit_code"] = raw_code.strip().upper()
    try:
        out.values["credit_code"] = validate_credit_code(raw_code)
    except CodeError as exc:
        out.fail("credit_code", _CODE_MESSAGES.get(exc.code, "The code is not valid."))

    chosen = [c.strip() for c in form.get("industries", "").split(",") if c.strip()]
    out.values["industries"] = ",".join(chosen)
    if not chosen:
        out.fail("industries", "Choose at least one industry.")
    elif any(c not in division_codes() for c in chosen):
        out.fail("industries", "Choose industries from the list.")

    mobile = form.get("contact_mobile", "").strip().replace(" ", "")
    out.values["contact_mobile"] = mobile
    # An edit form shows the stored number masked; sent back as it is, it stays.
    unchanged = not need_password and _MASKED_MOBILE.match(mobile)
    if not unchanged and not _MOBILE.match(mobile):
        out.fail("contact_mobile", "Enter an 11-digit mainland mobile number.")

    email = form.get("contact_email", "").strip().lower()
    out.values["contact_email"] = email
    if not _EMAIL.match(email) or len(email) > 320:
        out.fail("contact_email", "Enter a valid email address.")

    rid = form.get("contact_id", "").strip()
    out.values["contact_id"] = rid
    if rid or need_password:
        try:
            out.values["contact_id"] = validate_resident_id(rid, field="contact_id")
            out.values["contact_id_masked"] = mask_resident_id(out.values["contact_id"])
        except CodeError as exc:
            out.fail("contact_id", _CODE_MESSAGES.get(exc.code, "The ID number is not valid."))

    code = form.get("preferred_code", "").strip()
    out.values["preferred_code"] = code
    if code and not _CODE.match(code):
        out.fail("preferred_code", "1 to 32 letters or digits.")

    entries = [e.strip() for e in re.split(r"[\s,]+", form.get("endpoints", "")) if e.strip()]
    out.values["endpoints"] = "\n".join(entries)
    for entry in entries:
        msgid = check_endpoint(entry)
        if msgid:
            out.fail("endpoints", msgid, entry=entry)
            break

    if need_password:
        password = form.get("password", "")
        if len(password) < 10:
            out.fail("password", "The password must have at least 10 characters.")
        elif password != form.get("password2", ""):
            out.fail("password2", "The passwords differ.")
    return out


def check_licence(data: bytes | None, *, required: bool, out: Checked) -> str | None:
    """Validate an uploaded licence; returns its content type when one was given."""
    if not data:
        if required:
            out.fail("licence", "Upload the business licence.")
        return None
    if len(data) > MAX_LICENCE_BYTES:
        out.fail("licence", "The file is larger than 10 MB.")
        return None
    ctype = sniff_licence(data)
    if ctype is None:
        out.fail("licence", "The file must be a PDF, JPEG or PNG.")
    return ctype


def name_problems(name: str, forbidden: str) -> list[str]:
    """Forbidden words the company name contains (the configurable compliance list)."""
    words = [w.strip() for w in forbidden.split(",") if w.strip()]
    return [w for w in words if w in name]
