"""The settings registry: each setting has a name, default, type and help; env DESKBASE_<NAME> overrides it.

Reading settings (defaults, environment, overrides) lives here; describing them (`--help`, the
configuration page) in deskbase/config/docs.py, which reads the same fields.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def _setting(default: Any, help: str, secret: bool = False) -> Any:
    """A setting; a ``secret`` one (a key, a password, a URL that may carry one) is left out of repr, so
    logging the settings never shows it."""
    return field(default=default, repr=not secret, metadata={"help": help})


@dataclass
class Settings:
    data_dir: str = _setting(
        "./deskbase-data", "Directory holding the embedded SQLite file, chDB data and the admin token."
    )
    database_url: str = _setting("", "SQLAlchemy URL of the primary store; empty means SQLite in data_dir.")
    clickhouse_url: str = _setting(
        "",
        "ClickHouse server for the SQL replica, http(s)://[user[:password]@]host[:port] (8123 for http, 8443 "
        "for https); empty means embedded chDB in data_dir. Its user needs access management (CREATE USER, "
        "SETTINGS PROFILE, GRANT) unless clickhouse_workspace_users is off (docs/deploy.md).",
        secret=True,
    )
    clickhouse_user: str = _setting("", "User for clickhouse_url; empty: the URL's user, or `default`.")
    clickhouse_password: str = _setting(
        "", "Password for clickhouse_url's user; empty: the URL's password, if any.", secret=True
    )
    clickhouse_cluster: str = _setting(
        "",
        "Name of the ClickHouse cluster (one shard, N replicas) the replica lives on: every DDL statement "
        "runs ON CLUSTER and tables are ReplicatedReplacingMergeTree. Empty: a single server.",
    )
    clickhouse_workspace_users: bool = _setting(
        True,
        "On a ClickHouse server, run each workspace's SQL as a read-only user of its own (deskbase_ws_<id>, "
        "SELECT on its database only, a settings profile capping the SQL limits), created with the "
        "workspace's replica database. Off: SQL runs as clickhouse_url's user with readonly=2, behind the "
        "guard only.",
    )
    host: str = _setting("127.0.0.1", "Address `deskbase serve` listens on.")
    port: int = _setting(8765, "Port `deskbase serve` listens on.")
    sqlite_synchronous: str = _setting(
        "FULL",
        "SQLite synchronous pragma: FULL survives power loss, NORMAL is faster (a power loss may undo the "
        "last acknowledged writes).",
    )
    sqlite_group_commit: bool = _setting(
        True,
        "With sqlite_synchronous=FULL: acknowledge writes after one shared fsync of the write-ahead log per "
        "group of concurrent commits, taken outside the write lock, instead of one fsync inside each commit. "
        "Equally durable; off only to compare.",
    )
    max_body_bytes: int = _setting(16 * 1024 * 1024, "Largest accepted HTTP request body, in bytes.")
    max_record_bytes: int = _setting(
        1024 * 1024, "Largest accepted record `data`, in bytes (serialised JSON)."
    )
    max_batch_operations: int = _setting(1000, "Most operations accepted in one batch request.")
    rate_limit_per_second: float = _setting(
        50.0,
        "Sustained requests per second one API token may make, per server process (a token bucket; "
        "0 turns the limit off). Over it: 429 rate_limited with Retry-After. Server-admin tokens are exempt.",
    )
    rate_limit_burst: int = _setting(
        100, "Requests a token may make at once before the sustained rate applies."
    )
    query_default_limit: int = _setting(50, "Records returned by a list query when no limit is given.")
    query_max_limit: int = _setting(1000, "Largest `limit` a record list query accepts.")
    sql_wait_seconds: float = _setting(
        2.0, "How long an SQL request waits for the replica to catch up before 503."
    )
    sql_max_execution_seconds: float = _setting(
        10.0,
        "Time limit of one SQL query; the answer (504 query_timeout) comes about 0.5 s after it, whatever the "
        "query computes.",
    )
    sql_max_result_rows: int = _setting(10000, "Rows an SQL query returns before it is marked truncated.")
    sql_max_memory_bytes: int = _setting(2 * 1024**3, "Memory limit of one SQL query.")
    sql_max_result_bytes: int = _setting(
        64 * 1024**2,
        "Largest SQL result, in bytes of engine output; a larger result is refused with 413 "
        "payload_too_large (the query is cancelled as soon as it crosses the limit).",
    )
    sql_max_threads: int = _setting(
        2, "Threads one SQL query may use; keep it below the core count so one query cannot take every core."
    )
    sql_max_concurrent_per_token: int = _setting(
        2,
        "SQL queries one API token may run at once (a query that timed out counts until the engine has "
        "stopped it). Over it: 429 rate_limited with Retry-After.",
    )
    sql_max_concurrent_per_workspace: int = _setting(
        4, "SQL queries running at once in one workspace, all tokens together. Over it: 429 rate_limited."
    )
    sql_max_concurrent: int = _setting(
        8,
        "SQL queries running at once on the server: bounds the share of the 40 request threads SQL can "
        "hold, so record reads and writes keep their threads. Over it: 429 rate_limited.",
    )
    replicate: bool = _setting(True, "Run the ClickHouse replicator inside the server process.")
    replica_interval_seconds: float = _setting(
        1.0,
        "Least time between two background replication steps while writes keep coming. Each step inserts one "
        "part per replica table, which ClickHouse merges in the background; fewer, larger steps leave the CPU "
        "to writers. SQL reads never wait for it: they replicate what they need first (read-your-writes).",
    )
    replica_merge_seconds: float = _setting(
        300.0,
        "Least time between two merges of a workspace's records and relationships on the replica while writes "
        "keep coming (0: merge only after a backlog). SQL reads them with FINAL, which slows down 1.5-4.6 times "
        "once updates of older rows sit in parts of their own; a merge rewrites each table to one part, a cost "
        "that grows with the table (about 15 s for 1M tickets on a busy 2-core machine).",
    )
    sla_scheduler: bool = _setting(
        True, "Run the SLA scheduler (warnings, breaches, escalations) in the server."
    )
    secret_key: str = _setting(
        "",
        "Key that encrypts stored secrets (webhook signing secrets, mailbox passwords) at rest and derives "
        "the ClickHouse workspace users' passwords; empty means a random key kept in "
        "data_dir/secret-key (mode 0600). Keep it with your backups: stored secrets are unreadable without it.",
        secret=True,
    )
    webhooks: bool = _setting(True, "Run the webhook dispatcher (outbound triggers) in the server.")
    public_url: str = _setting(
        "",
        "The console's address as people reach it (https://desk.example.com), for links in notification "
        "emails; empty: the emails name the ticket without a link.",
    )
    notifications: bool = _setting(
        True,
        "Run the notification loop in the server: it derives users' notifications (assigned to you, customer "
        "replies, @mentions, SLA warnings and breaches) from the change log. Off: nobody is notified.",
    )
    webhook_retry_schedule: str = _setting(
        "5,300,1800,7200,18000,36000,36000",
        "Seconds to wait before each retry of a failed webhook delivery, comma-separated (each wait gets "
        "up to 10% jitter); after the last one the delivery is exhausted.",
    )
    webhook_timeout_seconds: float = _setting(
        15.0,
        "Seconds a webhook delivery may wait to connect, and for each write and read, before it times out.",
    )
    webhook_allow_networks: str = _setting(
        "",
        "Comma-separated CIDR networks webhooks and mail servers (mailboxes' IMAP and SMTP hosts) may reach "
        "although they are loopback, private, link-local or multicast (refused by default), e.g. 127.0.0.0/8 "
        "for local development or 10.0.0.0/8 for a mail server on your own network.",
    )
    webhook_disable_after_seconds: int = _setting(
        5 * 86400, "A trigger whose deliveries have failed for this long without a success is disabled."
    )
    webhook_retention_days: int = _setting(
        30,
        "Days finished webhook deliveries (and their attempts) are kept in the delivery log, and inbound hook "
        "ingests in the ingest log (a webhook id older than that is no longer deduplicated).",
    )
    webhook_concurrency: int = _setting(
        16,
        "Webhook deliveries in flight at once, all triggers together. A trigger may always have 2; more only "
        "while 2 workers stay free for other triggers.",
    )
    webhook_max_inflight_per_trigger: int = _setting(
        8,
        "Most deliveries one trigger has in flight. A trigger starts at 2 and tries one more at a time while "
        "a backlog waits, its endpoint answers 2xx fast and the extra one delivers more; a failure or a slow "
        "answer halves it, down to 1.",
    )
    webhook_slow_seconds: float = _setting(
        1.0,
        "An answer slower than this counts as a sign of overload: it halves the trigger's deliveries in flight, "
        "as a failure does.",
    )
    hook_max_body_bytes: int = _setting(
        1024 * 1024, "Largest payload an inbound hook accepts, in bytes (larger: 413 payload_too_large)."
    )
    files_url: str = _setting(
        "",
        "Where uploaded file contents are kept: empty means data_dir/files; s3://bucket/prefix an S3-compatible "
        "bucket (the standard AWS_* environment variables work; the files_s3_* settings override them).",
    )
    files_s3_endpoint_url: str = _setting(
        "", "Endpoint of an S3-compatible object store (e.g. MinIO); empty means AWS S3."
    )
    files_s3_region: str = _setting("", "Region of the files bucket; empty means the AWS default.")
    files_s3_access_key_id: str = _setting(
        "", "Access key id for the files bucket; empty means AWS defaults."
    )
    files_s3_secret_access_key: str = _setting(
        "", "Secret access key for the files bucket; empty means AWS defaults.", secret=True
    )
    max_file_bytes: int = _setting(
        25 * 1024 * 1024,
        "Largest accepted file upload, in bytes; a larger one is refused with 413 file_too_large and nothing "
        "is stored.",
    )
    max_mail_bytes: int = _setting(
        40 * 1024 * 1024,
        "Largest accepted inbound email (the raw message, attachments encoded), in bytes; a larger one is "
        "refused with 413. Each attachment must also fit max_file_bytes.",
    )
    imap_fetch: bool = _setting(
        True,
        "Fetch the mail of mailboxes whose inbound kind is imap in this process, a background loop like the "
        "replicator's (one loop and connection per mailbox; a lease in the store makes exactly one process "
        "fetch each mailbox).",
    )
    imap_poll_seconds: float = _setting(
        60.0,
        "Seconds between two polls of an IMAP mailbox whose server has no IDLE; with IDLE, new mail is "
        "fetched as the server announces it and the folder is polled this often anyway. Also the first wait "
        "after a failed poll (it doubles with each failure, up to 15 minutes).",
    )
    smtp_port: int = _setting(
        0,
        "Port of the built-in SMTP listener that takes mail relayed by your MTA for mailboxes whose inbound "
        "kind is smtp; 0 (the default) leaves it off. It runs in the `deskbase serve` process (not in "
        "`deskbase worker`): in a scale-out deployment set it on one server process only.",
    )
    smtp_host: str = _setting(
        "127.0.0.1",
        "Address the SMTP listener binds to. It has no TLS or authentication: keep it on loopback or a "
        "private network that only your MTA reaches.",
    )
    smtp_lmtp: bool = _setting(
        False, "Speak LMTP (LHLO, one answer per recipient) instead of SMTP on smtp_port."
    )
    reply_hold_seconds: int = _setting(
        10,
        "Undo-send: the console holds a reply or note this many seconds before it is committed (and so "
        "emailed), with Undo on the page; the hold is kept in the store, so a closed tab neither loses nor "
        "repeats it. 0 commits at once.",
    )
    mail_outbound: bool = _setting(
        True,
        "Run the outbound mail loop in the server: agent replies on email tickets (and auto-acknowledgements) "
        "are queued and sent through their mailbox's SMTP server. Off: nothing is queued or sent.",
    )
    mail_retry_schedule: str = _setting(
        "30,120,600,1800,3600,7200,14400",
        "Seconds to wait before each retry of an outbound message the SMTP server deferred (4xx) or that "
        "could not reach it, comma-separated (each wait gets up to 10% jitter); after the last one the "
        "message is failed. A 5xx answer fails it at once.",
    )
    mail_timeout_seconds: float = _setting(
        30.0, "Seconds an SMTP connection may wait to connect, and for each answer, before it gives up."
    )
    mail_retention_days: int = _setting(
        30,
        "Days finished outbound messages (sent, failed, bounced) and their attempts are kept in a mailbox's "
        "outbox, and skipped inbound messages in its skip log; older ones are pruned by the mail loop (a "
        "failed one can no longer be retried, a late bounce no longer marks it). 0 keeps them forever. The "
        "Message-ID index that threads replies is kept for good.",
    )
    mail_concurrency: int = _setting(
        4, "Mailboxes sending at once (one SMTP connection each; a slow server delays only its own mailbox)."
    )
    password_hash_time_cost: int = _setting(
        3, "argon2id passes over memory per password hash (RFC 9106's low-memory profile: 3)."
    )
    password_hash_memory_kib: int = _setting(
        65536,
        "argon2id memory per password hash, in KiB (RFC 9106's low-memory profile: 64 MiB; OWASP's floor is "
        "19456 with time cost 2). Stored hashes are upgraded at their next sign-in when this changes.",
    )
    signin_free_failures_account: int = _setting(
        5,
        "Failed password sign-ins to one account (by email, whether or not it exists) before each further "
        "attempt must wait: 2 s after the next failure, doubling up to signin_max_wait_seconds.",
    )
    signin_free_failures_address: int = _setting(
        20,
        "Failed password sign-ins from one client address (an IPv6 /64) before each further attempt must "
        "wait, doubling as for an account. Behind a reverse proxy, run uvicorn with proxy headers trusted.",
    )
    signin_max_wait_seconds: int = _setting(
        900, "Longest wait a run of failed sign-ins imposes; failures are forgotten after a day without one."
    )
    oidc_issuer: str = _setting(
        "",
        "OpenID Connect single sign-on: the issuer URL of your identity provider (https://id.example.com/realms"
        "/acme); its /.well-known/openid-configuration is read at the first sign-in. Empty: no single sign-on. "
        "It must be https, except on loopback. Set public_url too, so the redirect URI is the one you "
        "registered: <public_url>/signin/sso/callback.",
    )
    oidc_client_id: str = _setting("", "The client id deskbase has at the identity provider.")
    oidc_client_secret: str = _setting(
        "",
        "The client's secret at the identity provider (set it through the environment or "
        "oidc_client_secret_file, never on a command line; it is never logged). Empty with no file: a public "
        "client, which PKCE alone protects.",
        secret=True,
    )
    oidc_client_secret_file: str = _setting(
        "", "A file holding the client's secret (its first line); used when oidc_client_secret is empty."
    )
    oidc_name: str = _setting(
        "", "The provider's name on the sign-in button (\"Sign in with <name>\"); empty: the issuer's host."
    )
    oidc_scopes: str = _setting("openid email profile", "Scopes asked for at sign-in, space-separated.")
    oidc_domain_roles: str = _setting(
        "",
        'Workspace roles by email domain, as JSON: {"example.com": {"acme": "agent"}}. A person '
        "signing in with a verified address of a listed domain becomes a member of each workspace with that "
        "role, or is raised to it; a role is never lowered. People of unlisted domains need a membership "
        "already (docs/people.md#single-sign-on).",
    )
    oidc_require_verified_email: bool = _setting(
        True,
        "Refuse a sign-in whose email the provider does not mark verified (email_verified) unless the "
        "account is already linked. Turn it off only for a provider that vouches for every address it "
        "issues but sends no email_verified claim (Microsoft Entra ID).",
    )
    oidc_create_users: bool = _setting(
        True,
        "Create the user at their first single sign-on when their domain is in oidc_domain_roles; off: only "
        "people who already have a user (invited or created) may sign in with the provider.",
    )
    oidc_providers: str = _setting(
        "",
        'More OpenID providers, one sign-in button each, as a JSON list: [{"id": "okta", "issuer": '
        '"https://acme.okta.com", "client_id": "…", "client_secret_file": "/etc/deskbase/okta", '
        '"name": "Okta", "domain_roles": {…}}]. Each takes the fields of the oidc_* settings without the '
        "prefix (scopes, require_verified_email, create_users, logout too); its redirect URI is the same "
        "<public_url>/signin/sso/callback. Listed after the provider of oidc_issuer, if any.",
        secret=True,
    )
    oidc_logout: bool = _setting(
        True,
        "Signing out of a console session opened by single sign-on also signs out at the provider, when its "
        "discovery document has an end_session_endpoint (RP-initiated logout): the browser goes there with "
        "the ID token as id_token_hint and comes back to <public_url>/signin, which you register at the "
        "provider as a post-logout redirect URI. Off: signing out ends the deskbase session only.",
    )
    log_level: str = _setting("info", "Server log level.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then DESKBASE_* environment variables, then explicit overrides (CLI flags, tests)."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"DESKBASE_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _coerce(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'deskbase.db'}"


def _coerce(type_name: Any, raw: str, name: str) -> Any:
    t = str(type_name)
    try:
        if t == "int":
            return int(raw)
        if t == "float":
            return float(raw)
        if t == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
    except ValueError as exc:
        raise ValueError(f"DESKBASE_{name.upper()}={raw!r} is not a valid {t}") from exc
    return raw
