"""Onboarding tables: applications for a prefix, uploads, one-time email tokens, TOTP.

An application belongs to the user who filed it; its ``credit_code`` is unique, so one
enterprise applies once (a rejected application is fixed and resubmitted, not refiled).
"""

from __future__ import annotations

from piccolo.columns import JSON, Bytea, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

APPLICATION_STATES = ("draft", "submitted", "in_review", "approved", "rejected")
# Older nodes marked an application "approving" while the prefix was allocated, and a
# crash could leave it there. Approval is now one transaction and never writes it; the
# portal still labels such rows (status.approving) but offers no action on them.


class Application(Table, tablename="onboarding_applications"):
    id: Serial
    user_id = Integer(index=True)
    status = Varchar(length=16, default="draft", index=True)
    company_name = Varchar(length=255)
    short_name = Varchar(length=64, default="")
    credit_code = Varchar(length=18, unique=True)
    # Comma-separated GB/T 4754-2017 division codes, e.g. "13,34".
    industries = Varchar(length=255, default="")
    region = Varchar(length=64, default="")
    address = Varchar(length=512, default="")
    contact_name = Varchar(length=64)
    # The contact's mobile number, shown masked (138****8000): the number itself is
    # Fernet-encrypted in contact_mobile_enc (core.crypto), like the resident ID.
    contact_mobile = Varchar(length=32)
    contact_mobile_enc = Text(default="")
    contact_email = Varchar(length=320)
    # The resident ID number, Fernet-encrypted (core.crypto); only the mask is shown.
    contact_id_enc = Text(default="")
    contact_id_masked = Varchar(length=32, default="")
    preferred_code = Varchar(length=32, default="")
    # Newline-separated public IP addresses and domain names.
    endpoints = Text(default="")
    licence_id = Integer(null=True, default=None)
    rejection_reason = Text(default="")
    # The tenant this application became, once approved. Applications are node-wide
    # (filed before any tenant exists), so this is a reference, not an owner column.
    approved_tenant_id = Integer(null=True, default=None, index=True)
    # Pending legal-field changes from an approved tenant's profile page.
    pending_changes = JSON(default="{}")
    email_confirmed_at = Timestamptz(null=True, default=None)
    submitted_at = Timestamptz(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Varchar(length=255, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Upload(Table, tablename="onboarding_uploads"):
    id: Serial
    user_id = Integer(index=True)
    filename = Varchar(length=255)
    content_type = Varchar(length=64)
    size = Integer()
    data = Bytea()
    created_at = Timestamptz()


class EmailToken(Table, tablename="onboarding_email_tokens"):
    """One-time links: email confirmation, password reset, member invitation."""

    id: Serial
    token_hash = Varchar(length=64, unique=True)
    purpose = Varchar(length=16)
    email = Varchar(length=320)
    user_id = Integer(null=True, default=None)
    payload = JSON(default="{}")
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class UserTotp(Table, tablename="onboarding_user_totp"):
    id: Serial
    user_id = Integer(unique=True)
    secret_enc = Text()
    enabled = Integer(default=0)
    created_at = Timestamptz()
