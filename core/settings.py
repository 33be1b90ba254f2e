"""One settings object, read from ``IDNEST_*`` environment variables (and ``.env``).

Nothing configured means the embedded profile: a SQLite file under ``./var/``, an
in-process cache and store, in-process background jobs. Setting ``IDNEST_DATABASE_URL``
and ``IDNEST_REDIS_URL`` gives the single-node profile.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IDNEST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    var_dir: Path = Path("var")
    database_url: str = ""
    # The owner role's URL, for `idnest migrate` (DDL, row-level security, grants); the
    # application then connects as IDNEST_DATABASE_URL's role, which owns nothing.
    # Empty: migrations run as IDNEST_DATABASE_URL's role.
    migration_database_url: str = ""
    # A multi-host URL finds the primary after a failover by itself:
    # postgresql://u:p@pg1:5432,pg2:5432/idnest?target_session_attrs=read-write
    # Read replicas for resolution cache misses (comma-separated URLs; docs/operations.md
    # "High availability"). A key written in the last `replica_fresh_seconds` is read
    # from the primary, and a replica is used only while it has replayed what the primary
    # had written one `replica_probe_interval` ago.
    database_replica_urls: str = ""
    replica_fresh_seconds: float = Field(default=5.0, gt=0, le=3600)
    replica_probe_interval: float = Field(default=1.0, gt=0, le=60)
    # A write request whose transaction lost the primary before COMMIT is run once more
    # after this many seconds (0.5 s lets a multi-host URL find the new primary).
    failover_retry_delay: float = Field(default=0.5, ge=0, le=30)
    redis_url: str = ""
    # Redis Sentinel (host:port, comma-separated) and the master's name there; when set,
    # every Redis client finds the master through Sentinel and follows a failover.
    # IDNEST_REDIS_URL may still give the password and database number (redis://:pw@/0).
    redis_sentinels: str = ""
    redis_master_name: str = "idnest"
    broker_url: str = Field(
        default="",
        description="amqp://, redis:// or redis+sentinel:// for Dramatiq; empty: in-process",
    )
    node_prefix: str = "88.100"
    node_name: str = "idnest"
    # "::" with IPV6_V6ONLY off accepts IPv4 and IPv6 on one socket.
    host: str = "::"
    port: int = 8000
    workers: int = 1
    secret_key: str = ""
    # The keyring for personal data at rest (core/crypto.py) as JSON {"current", "keys"};
    # empty: var_dir/pii_keys.json, written by `idnest keys rotate`.
    pii_keys: str = ""
    public_base_url: str = ""
    # Seconds a "no such handle" answer is cached; writes invalidate it at once.
    negative_cache_ttl: float = 5.0
    # Megabytes each serving process may spend on its resolution cache (resolver.cache:
    # about 1.1 KB a record of ~600 bytes of stored values, so 256 MB is ~230,000).
    record_cache_mb: float = Field(default=256.0, gt=0, le=1_000_000)
    # Backstop for credential caches when no Redis bus carries revocations across
    # processes (the embedded profile, with the CLI in another process).
    auth_cache_ttl: float = 10.0
    # Seconds an OAuth2 client-credentials access token lives (docs/access.md).
    oauth_token_ttl: int = 300
    counter_flush_interval: float = 5.0
    # Self-deployed enterprise nodes (resolver/recursive.py, docs/enterprise.md): seconds
    # to wait for an enterprise's server (UDP, then TCP) before 504; the longest a
    # recursive answer is cached whatever its values' TTLs say; how long past its TTL a
    # cached answer is still served while the enterprise does not answer; referrals
    # followed before giving up (a loop answers 502).
    enterprise_timeout: float = Field(default=2.0, gt=0, le=30)
    enterprise_cache_max_ttl: float = Field(default=3600.0, ge=0)
    enterprise_stale_ttl: float = Field(default=86400.0, ge=0)
    enterprise_max_referrals: int = Field(default=3, ge=0, le=10)
    enterprise_cache_size: int = Field(default=100_000, ge=1)
    db_pool_size: int = 10
    # Seconds to wait for PostgreSQL to accept a connection, and for one statement (bulk
    # exports page, so no single statement runs long).
    db_connect_timeout: float = Field(default=5.0, gt=0, le=300)
    db_command_timeout: float = Field(default=120.0, gt=0, le=3600)
    sqlite_timeout: float = 30.0
    log_level: str = "INFO"
    # Identifier schemes (docs/schemes.md). The node's OID arc, under which each tenant
    # gets a sub-arc: 2.999 is X.660's "example" arc, a placeholder to replace with the
    # arc this node was actually allocated.
    oid_arc: str = "2.999"
    # Ecode / VAA rules the public material does not settle (see core/schemes/*.py).
    ecode_versions: str = "1,2,3"
    ecode_max_length: int = 256
    vaa_max_length: int = 50
    vaa_cin_length: int = 0  # 0: unknown, not enforced
    vaa_extra_chars: str = ""
    gs1_cache_size: int = 100_000
    # Handle wire protocol (RFC 3652) on UDP+TCP; docs/wire.md.
    wire_enabled: bool = True
    # Wire listener bind address; empty: IDNEST_HOST (what `serve --host` sets).
    wire_host: str = ""
    wire_port: int = 2641
    # The HTTP port HS_SITE advertises for the Handle protocol over HTTP; 0 means
    # IDNEST_PORT. Behind a proxy or ingress that listens elsewhere (80), give that port.
    site_http_port: int = 0
    # Addresses this node advertises in its HS_SITE (GET_SITE_INFO, 0.NA/{prefix}),
    # comma-separated; empty: the bind address, or 127.0.0.1 and ::1 for a wildcard bind.
    # Only interfaces whose socket reaches an address are advertised on it.
    wire_addresses: str = ""
    # PEM RSA private key of the wire server; empty: generated into var_dir on first run.
    wire_key_file: str = ""
    # Per-source UDP datagrams sent per second and burst (anti-reflection token bucket).
    wire_udp_rate: float = 500.0
    wire_udp_burst: float = 1000.0
    # Datagrams one UDP answer may take (492 message bytes each); a longer answer is
    # sent as its first datagram with TRUNCATED and the client asks over TCP. 8 covers
    # answers up to 3,936 bytes (0.NA/{prefix} and GET_SITE_INFO need 2).
    wire_udp_max_datagrams: int = Field(default=8, ge=1, le=64)
    # Pending authentication challenges: seconds until one expires, and how many one
    # client address may have pending (a new one evicts its oldest).
    wire_challenge_ttl: float = Field(default=30.0, gt=0, le=600)
    wire_challenges_per_source: int = Field(default=16, ge=1, le=1024)
    # Portal: mail (empty host writes .eml files to ./var/mail/), cookies, staff security.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_from: str = "idnest <noreply@idnest.local>"
    # Unset: on the embedded profile cookies are Secure over HTTPS only (a LAN trial over
    # plain HTTP can log in), elsewhere always Secure. true/false force it (core.proxy).
    cookie_secure: bool | None = None
    # Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-Proto and
    # X-Forwarded-For are believed (core/proxy.py).
    trusted_proxies: str = ""
    session_max_age: int = 8 * 3600
    staff_totp_required: bool = True
    login_failures_per_minute: int = 5
    # Rate limits (docs/access.md "Rate limits"), in the ``limits`` notation (N/second,
    # N/minute ...), each counted per door: anonymous requests per source address (a
    # public good: generous), per credential (API key, OAuth client, SNMS account), per
    # credential on the bulk door, and wire requests per source (rc 3 past it).
    rate_limit_enabled: bool = True
    rate_limit_anonymous: str = "500/second"
    rate_limit_key: str = "200/second"
    rate_limit_bulk: str = "60/minute"
    rate_limit_wire: str = "1000/second"
    forbidden_name_words: str = "国家,中国人民,中央,国务院,赌博,色情"
    # Staff single sign-on through OpenID Connect; off unless the issuer is set.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # Periodic jobs (docs/scheduling.md): every `idnest serve` process checks every
    # `scheduler_tick` seconds which jobs are due; a database lease makes one of them run it.
    scheduler_enabled: bool = True
    scheduler_tick: float = 30.0
    # Idempotency-Keys are forgotten after this many hours; the purge runs every
    # `idempotency_purge_interval` seconds (0: never).
    idempotency_ttl_hours: float = 72.0
    idempotency_purge_interval: float = 3600.0
    # A bulk job whose cursor has not moved for `bulk_stall_seconds` (its worker died,
    # its message was lost) is sent again; checked every `bulk_redrive_interval` s.
    bulk_redrive_interval: float = 60.0
    bulk_stall_seconds: float = 300.0
    # Billing (docs/billing.md): the plan code a tenant without a subscription is on
    # (empty: none, nothing billed); days from issue to an invoice's due date; how often
    # the month-close job looks for a closed month to invoice (0: never, CLI only).
    billing_default_plan: str = ""
    billing_due_days: int = 15
    billing_close_interval: float = 3600.0
    # Tenant exports (docs/ownership.md): a download link lives `export_link_hours`; a
    # closure waits `closure_grace_days` (cancelable) before erasure, checked every
    # `erasure_interval` seconds; an export whose job stopped is re-run after
    # `export_stall_seconds`.
    export_link_hours: float = Field(default=72.0, gt=0)
    closure_grace_days: float = Field(default=30.0, ge=0)
    erasure_interval: float = 3600.0
    export_stall_seconds: float = 600.0
    # The national top-level node (国家顶级节点): base URL of its API and our credentials
    # there (a bearer token, or an SNMS-style login). Unset: nothing is synced.
    upstream_url: str = ""
    upstream_token: str = ""
    upstream_username: str = ""
    upstream_password: str = ""
    upstream_timeout: float = 10.0
    upstream_attempts: int = 3
    # First wait between attempts, in seconds; it doubles (with jitter) on each retry.
    upstream_retry_wait: float = 1.0
    # Node templates are pulled from the top-level node this often (0: never).
    template_sync_interval: float = 86400.0
    # Escrow (数据托管, docs/escrow.md): base64 of the 32-byte AES-256-GCM key; unset,
    # no set is written on schedule. Sets go to `escrow_dir` (empty: var_dir/escrow); a
    # FULL every `escrow_full_interval` seconds and a DIFF every `escrow_diff_interval`
    # (0: never); sets not yet uploaded are retried every `escrow_upload_interval`.
    escrow_key: str = ""
    escrow_dir: str = ""
    escrow_full_interval: float = 7 * 86400.0
    escrow_diff_interval: float = 86400.0
    escrow_upload_interval: float = 900.0
    # PostgreSQL: audit entries are linked into the chain by the process that wrote them
    # moments after (core/audit.py); every `audit_seal_interval` s the scheduler links
    # what a killed process left (0: never).
    audit_seal_interval: float = 10.0
    # Validity windows open and close without a write; every `window_edges_interval` s
    # the edges that passed are sent upstream as a modify (0: never).
    window_edges_interval: float = 300.0

    @property
    def escrow_path(self) -> Path:
        return Path(self.escrow_dir) if self.escrow_dir else self.var_dir / "escrow"

    # Outbox delivery to the top-level node (docs/upstream.md). A run is claimed every
    # `outbox_delivery_interval` s (0: off) and keeps polling every `outbox_poll` s for
    # `outbox_run_seconds`; a runner that died is replaced after `outbox_lease` s.
    outbox_delivery_interval: float = 1.0
    outbox_poll: float = 0.2
    outbox_run_seconds: float = 10.0
    outbox_lease: float = 60.0
    # Events per request to the top-level node (one tenant, one kind, in order).
    outbox_batch: int = 200
    # Backoff of a failed message: base * 2^(attempts-1), at most `outbox_backoff_max` s,
    # with full jitter on the upper half. A message refused `outbox_max_attempts` times
    # becomes a dead letter; an unreachable node never dead-letters anything.
    outbox_backoff_base: float = 1.0
    outbox_backoff_max: float = 300.0
    outbox_max_attempts: int = 10
    # Cadence jobs (REFERENCE §4): checked this often; each enqueues what is due once.
    upstream_cadence_interval: float = 300.0
    # Observability (docs/observability.md). Each process's metric snapshots go to
    # `metrics_dir` (empty: PROMETHEUS_MULTIPROC_DIR, else var_dir/metrics); /metrics adds
    # them up. Resolution logs (解析日志): buffered, written in batches, kept this long.
    metrics_dir: str = ""
    # Off: no door metering and no resolution logs (bench/observability.py compares).
    observability_enabled: bool = True
    resolution_log_enabled: bool = True
    resolution_log_buffer: int = 100_000
    resolution_log_retention_days: int = 180
    # The built-in prober (0: off): every `prober_interval` s a canary (empty: 0.NA/ of
    # the oldest active tenant) through every door, on IPv4 and IPv6 loopback unless the
    # URLs below say where this node answers.
    prober_interval: float = 60.0
    prober_timeout: float = 5.0
    prober_handle: str = ""
    prober_http_url: str = ""
    prober_wire_host: str = ""
    prober_gs1_path: str = "/.well-known/gs1resolver"
    # Abnormal events (docs/observability.md): per door, raised when the condition held for
    # `abnormal_raise_minutes` (or `abnormal_probe_rounds` failed probe rounds), recovered
    # below half the threshold for `abnormal_recover_minutes`; checked every interval.
    abnormal_check_interval: float = 60.0
    abnormal_error_rate: float = 0.05
    abnormal_latency_ms: float = 500.0
    abnormal_min_requests: int = 20
    abnormal_raise_minutes: int = 3
    abnormal_recover_minutes: int = 5
    abnormal_probe_rounds: int = 3

    @property
    def metrics_path(self) -> Path:
        import os

        chosen = self.metrics_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        return Path(chosen) if chosen else self.var_dir / "metrics"

    # Billing payments (docs/payments.md). Stripe only when the key is set; otherwise
    # everything runs on the internal ledger. The base address points tests at a fake.
    stripe_api_key: str = ""
    stripe_api_base: str = ""
    stripe_webhook_secret: str = ""
    stripe_meter_registrations: str = "idnest_registrations"
    stripe_meter_resolutions: str = "idnest_resolutions"
    stripe_payment_methods: str = "card,alipay,wechat_pay"
    stripe_meter_interval: float = 300.0
    # The node's payee account for bank transfers (对公转账), printed on every invoice.
    payee_name: str = ""
    payee_bank: str = ""
    payee_account: str = ""
    # VAT rate on fapiao, in percent (6%: information technology services).
    fapiao_tax_rate: int = Field(default=6, ge=0, le=100)
    # Dunning: days of grace after a failed or overdue payment, days between reminders,
    # and how often the dunning job runs (0: never).
    dunning_grace_days: int = Field(default=14, ge=0, le=365)
    dunning_reminder_days: int = Field(default=3, ge=1, le=365)
    dunning_interval: float = 3600.0

    @field_validator("rate_limit_anonymous", "rate_limit_key", "rate_limit_bulk",
                     "rate_limit_wire")  # fmt: skip
    @classmethod
    def _rate(cls, value: str) -> str:
        import limits

        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit like 20/second") from None
        return value

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def replica_urls(self) -> list[str]:
        return [u.strip() for u in self.database_replica_urls.split(",") if u.strip()]

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def secure_cookies(self) -> bool:
        """Cookies are set Secure (core.proxy drops it over plain HTTP when they follow
        the request's scheme)."""
        return self.cookie_secure is not False

    @property
    def csrf_cookie_name(self) -> str:
        return "idnest_csrf"

    @property
    def cookies_follow_scheme(self) -> bool:
        return self.cookie_secure is None and self.embedded

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'idnest.sqlite3').resolve()}"

    @property
    def redis_namespace(self) -> str:
        """The prefix of every Redis key and channel this node uses. Redis state is about
        one database's contents, so two deployments (or test runs) sharing a Redis must
        not see each other's sessions, login throttles or cache invalidations."""
        digest = hashlib.sha256(self.effective_database_url.encode()).hexdigest()[:12]
        return f"idnest:{digest}"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated into ./var/ on first run and kept."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Tests change the environment; this makes the next get_settings() read it again."""
    get_settings.cache_clear()
