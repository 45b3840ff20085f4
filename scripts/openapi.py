#!/usr/bin/env python3
"""NeoSC's HTTP API as an OpenAPI 3.1.0 document: the source of truth for the contract.

    scripts/openapi.py           writes docs/openapi.json and Sources/Net/OpenAPIDocument.swift
                                 (the same document, compact, served at GET /api/openapi.json)
    scripts/openapi.py --check   exits 1 if either file differs from what this would write

Written from docs/api.md and the route code (Sources/Net); the test suite checks that every route
the server registers is documented and every documented one registered, and Schemathesis
(scripts/schemathesis) checks the server's answers against it.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JSON_OUT = os.path.join(ROOT, "docs", "openapi.json")
SWIFT_OUT = os.path.join(ROOT, "Sources", "Net", "OpenAPIDocument.swift")


def ref(kind, name):
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name):
    return ref("schemas", name)


# ---------------------------------------------------------------------------------------------
# Shared text rules (see Sources/Domain/Validation.swift). JSON Schema counts code points where
# the server counts Swift Characters (grapheme clusters, after trimming and NFC) and bounds UTF-8
# bytes at 4 per character allowed; for text without combining sequences the two agree.
# ---------------------------------------------------------------------------------------------

# Validation.text: trimmed of whitespace, then no character `Validation.isRefusedInText` names but
# a line feed, and variation selectors only in place. Encoded as: at least one character that is
# neither whitespace nor refused, and no refused character except the line feed and the whitespace
# a trim would take off the ends. Variation selectors are left out altogether (a subset of what the
# server takes), and so are the refused characters outside the Basic Multilingual Plane, which the
# pattern's \u escapes cannot name: see the hooks file.
# Characters Swift's trim takes off the ends (whitespacesAndNewlines: Zs, tab, U+000A-000D, U+0085,
# U+2028/2029), and in the Basic Multilingual Plane: the control (Cc) and format (Cf) characters,
# the line and paragraph separators, the private-use area, the other default-ignorable code points
# (CGJ, Hangul fillers, Khmer's inherent vowels, U+FFF0-FFF8), the blank Braille pattern, and the
# variation selectors.
WS = r"\t\n\v\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
CONTROL = (r"\x00-\x1F\x7F-\x9F\xAD\u034F\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u115F\u1160"
           r"\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u2028\u2029\u202A-\u202E\u2060-\u206F\u2800"
           r"\u3164\uE000-\uF8FF\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFFB")
CONTROL_BUT_LF = CONTROL.replace(r"\x00-\x1F", r"\x00-\x09\x0B-\x1F")
# Validation.text, once trimmed: at least one character (or none, for a 0-length minimum), no
# refused character but a line feed. Leading and trailing whitespace is allowed (trimmed).
TEXT_PATTERN = f"^[{WS}]*[^{CONTROL}{WS}]([^{CONTROL_BUT_LF}]*[^{CONTROL}{WS}])?[{WS}]*$"
OPTIONAL_TEXT_PATTERN = f"^[{WS}]*([^{CONTROL}{WS}]([^{CONTROL_BUT_LF}]*[^{CONTROL}{WS}])?)?[{WS}]*$"


def text(max_chars, min_chars=1, description=None, nullable=False):
    s = {"type": ["string", "null"] if nullable else "string", "maxLength": max_chars,
         "pattern": TEXT_PATTERN if min_chars >= 1 else OPTIONAL_TEXT_PATTERN}
    if min_chars >= 1:
        s["minLength"] = min_chars
    s["description"] = description or (
        f"{min_chars}-{max_chars} characters once trimmed (NFC), at most {4 * max_chars} UTF-8 bytes; "
        "no control, format, private-use or invisible character but a line feed (variation selectors only "
        "right after the character they select a form of).")
    return s


# Validation.line: Validation.text without the line feed inside (a name, a type, a category).
LINE_PATTERN = f"^[{WS}]*[^{CONTROL}{WS}]([^{CONTROL}]*[^{CONTROL}{WS}])?[{WS}]*$"


def line(max_chars, description=None, nullable=False):
    s = text(max_chars, nullable=nullable, description=description or (
        f"1-{max_chars} characters once trimmed (NFC), at most {4 * max_chars} UTF-8 bytes, one line; "
        "no control, format, private-use or invisible character (variation selectors only right after the "
        "character they select a form of)."))
    s["pattern"] = LINE_PATTERN
    return s


# Validation.normalisedEmail, as the server accepts it once trimmed and lower-cased: ASCII
# printable without space or "(),:;<>[\], one @, a local part of 1-64 bytes and a domain of
# letters, digits, dots and dashes that has a dot and no empty label.
EMAIL_LOCAL = r"[!#-'*-+\-./0-9=?A-Z^-~]{1,64}"
DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_DOMAIN = rf"{DNS_LABEL}(\.{DNS_LABEL})+"
# The domain of demo visitors' accounts, which no other account may have (any case).
DEMO_ACCOUNT_DOMAIN = r"(?!.*[@.][dD][eE][mM][oO]\.[nN][eE][oO][sS][cC]\.[iI][nN][vV][aA][lL][iI][dD]$)"
EMAIL = {
    "type": "string",
    "maxLength": 254,
    "pattern": f"^{DEMO_ACCOUNT_DOMAIN}{EMAIL_LOCAL}@{EMAIL_DOMAIN}$",
    "description": "A valid e-mail address of at most 254 bytes, stored lower-case: its domain a DNS name (labels of 1-63 "
                   "letters, digits and inner hyphens), not at demo.neosc.invalid (demo visitors' accounts).",
    "examples": ["ada@example.com"],
}

PASSWORD = {
    "type": "string",
    "minLength": 8,
    "maxLength": 128,
    "description": "8 to 128 characters (Unicode code points, as minLength and maxLength count them).",
    "examples": ["correct horse battery"],
}

TIMESTAMP = {"type": "string", "format": "date-time", "examples": ["2026-11-23T10:36:27Z"]}
# What `Request.queryDate` parses (ISO8601DateFormatter, with or without fractional seconds): an
# upper-case `T` and `Z`, no leap second (both of which RFC 3339 would allow).
QUERY_TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})$",
    "description": "ISO-8601, e.g. `2026-01-31T12:00:00Z` or `2026-01-31T12:00:00.250+01:00`.",
    "examples": ["2026-01-31T12:00:00Z"],
}
ROLE = {"type": "string", "enum": ["admin", "neosc", "user", "demo-user"]}

# Validation.url: an absolute http(s) URL with a host, or a path on this host.
URL_PATTERN = (
    r"^/([!-.0-\[\]-~][!-\[\]-~]*)?$"
    r"|^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(:[1-9][0-9]{0,3})?(/([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*$"
)
URL = {
    "type": "string",
    "minLength": 1,
    "maxLength": 2048,
    "pattern": URL_PATTERN,
    "description": (
        "An absolute http(s) URL with a host, or a path on this host: `/` alone or `/` followed by a "
        "character that is neither `/` nor `\\`, with no backslash, space or control character; a port, if "
        "given, from 1 to 65535; at most "
        "2048 UTF-8 bytes. (The server also takes non-ASCII paths and URLs with a query or fragment; this "
        "pattern describes the ASCII core.)"
    ),
}

SLUG = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,63}$", "minLength": 1, "maxLength": 64}

# StreamUpstream (Sources/Domain/StreamUpstream.swift), its ASCII core: vnc:// with a host and an
# optional port and nothing after it, or ws:// or wss:// with a host, an optional port, a path and a
# query; the host a DNS name (its last label not a number), an IPv4 address or an IPv6 one in
# brackets. Which hosts are allowed is configuration (NEOSC_STREAM_UPSTREAMS), not schema.
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_UPSTREAM_HOST = (
    r"(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?"
    rf"|({_OCTET}\.){{3}}{_OCTET}|\[[0-9A-Fa-f:.]+\])(:[1-9][0-9]{{0,3}})?"
)
STREAM_UPSTREAM_PATTERN = (
    rf"^[Vv][Nn][Cc]://{_UPSTREAM_HOST}/?$"
    rf"|^[Ww][Ss][Ss]?://{_UPSTREAM_HOST}([/?]([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{{2}})*)?$"
)
STREAM_UPSTREAM_VIEW = {
    "type": ["string", "null"],
    "maxLength": 1024,
    "description": "The stream NeoSC relays for this workspace's sessions, as stored: `vnc://host:port`, or "
                   "`ws://`/`wss://host:port/path?query`, the host lower-cased and the port explicit; null: the "
                   "workspace has no stream through NeoSC.",
}
STREAM_UPSTREAM_DRAFT = {
    "type": ["string", "null"],
    "maxLength": 1024,
    "pattern": "^$|" + STREAM_UPSTREAM_PATTERN,
    "description": "`vnc://host:port` (default port 5900), `ws://…` or `wss://…` (a WebSocket: path and query "
                   "kept); no user information or fragment, printable ASCII. Its host must be one the operator "
                   "allows (`NEOSC_STREAM_UPSTREAMS`: a listed name, or an address in a listed range), else 422; "
                   "with none allowed, streaming is off and any upstream is 422. Null or an empty string: no "
                   "stream (on update, removes it).",
}

# ---------------------------------------------------------------------------------------------
# Headers every response carries (BrowserPolicy, RequestIDHeader).
# ---------------------------------------------------------------------------------------------

HEADERS = {
    "Cache-Control": {"schema": {"type": "string", "const": "no-store"}},
    "X-Content-Type-Options": {"schema": {"type": "string", "const": "nosniff"}},
    "Strict-Transport-Security": {"schema": {"type": "string", "const": "max-age=63072000"}},
    "Referrer-Policy": {"schema": {"type": "string", "const": "no-referrer"}},
    "X-Frame-Options": {"schema": {"type": "string", "const": "DENY"}},
    "Content-Security-Policy": {"schema": {"type": "string", "const": "frame-ancestors 'none'"}},
    "X-Request-ID": {"schema": {"type": "string", "minLength": 1}},
}
HEADER_COMPONENTS = {
    name.replace("-", ""): {"description": f"Sent on every response.", "required": True, **value}
    for name, value in HEADERS.items()
}
HEADER_COMPONENTS["WWWAuthenticate"] = {
    "description": "On every 401.",
    "required": True,
    "schema": {"type": "string", "const": "Bearer"},
}
HEADER_COMPONENTS["RetryAfter"] = {
    "description": "Seconds until the refusal's window ends.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


def common_headers(extra=None):
    headers = {name: ref("headers", name.replace("-", "")) for name in HEADERS}
    for name in extra or []:
        headers[name] = ref("headers", name.replace("-", ""))
    return headers


def ok(description, body_schema, status_headers=None, media="application/json"):
    response = {"description": description, "headers": common_headers(status_headers)}
    if body_schema is not None:
        response["content"] = {media: {"schema": body_schema}}
    return response


# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------

def obj(properties, required=None, additional=False, description=None, **extra):
    s = {"type": "object", "properties": properties}
    s["required"] = list(properties) if required is None else required
    if additional is not None:
        s["additionalProperties"] = additional
    if description:
        s["description"] = description
    s.update(extra)
    return s


WORKSPACE_PROPERTIES = {
    "id": SLUG,
    "name": {"type": "string"},
    "type": {"type": "string"},
    "description": {"type": "string"},
    "image_url": {"type": "string"},
    "status": {"type": "string", "enum": ["available", "maintenance", "coming_soon"]},
    "cpu": {"type": "integer", "minimum": 1, "maximum": 256},
    "memory": {"type": "integer", "minimum": 1, "maximum": 4096, "description": "GiB"},
    "storage": {"type": "integer", "minimum": 1, "maximum": 65536, "description": "GiB"},
    "url": {"type": "string"},
    "connection_type": {"type": "string"},
    "launch_mode": {"type": "string", "enum": ["iframe", "new_tab"]},
    "clientless": {"type": "boolean"},
    "requires_netbird": {"type": "boolean"},
    "allowed_roles": {"type": "array", "items": ROLE, "uniqueItems": True},
    "max_session_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "stream_upstream": STREAM_UPSTREAM_VIEW,
}
WORKSPACE_REQUIRED = [k for k in WORKSPACE_PROPERTIES if k != "image_url"]

WORKSPACE_DRAFT = {
    "name": line(120, nullable=True),
    "type": line(40, nullable=True),
    "description": text(2000, 0, nullable=True),
    "image_url": {**URL, "type": ["string", "null"]},
    "status": {"type": ["string", "null"], "enum": ["available", "maintenance", "coming_soon", None]},
    "cpu": {"type": ["integer", "null"], "minimum": 1, "maximum": 256},
    "memory": {"type": ["integer", "null"], "minimum": 1, "maximum": 4096, "description": "GiB"},
    "storage": {"type": ["integer", "null"], "minimum": 1, "maximum": 65536, "description": "GiB"},
    "url": {**URL, "type": ["string", "null"]},
    "connection_type": line(40, nullable=True),
    "launch_mode": {"type": ["string", "null"], "enum": ["iframe", "new_tab", None]},
    "clientless": {"type": ["boolean", "null"]},
    "requires_netbird": {"type": ["boolean", "null"]},
    "allowed_roles": {"type": ["array", "null"], "items": ROLE,
                      "description": "Repeats are ignored; empty: administrators only."},
    "max_session_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 10080},
    "stream_upstream": STREAM_UPSTREAM_DRAFT,
}

SESSION_STATUS = {"type": "string", "enum": ["active", "disconnected", "terminated", "expired"]}
DEMO_STATUS = {"type": "string", "enum": ["active", "expiring", "expired", "ended"]}
CLEANUP_STEP = {
    "type": "string",
    "enum": ["end_sessions", "deprovision_workspace", "revoke_network_peer", "remove_identity_role", "revoke_token",
             "mark_finished"],
}

USER = obj(
    {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "organization": {"type": ["string", "null"], "description": "The organisation's name."},
        "organization_id": {"type": ["string", "null"]},
        "role": ROLE,
        "mfa_enabled": {"type": "boolean"},
        "disabled": {"type": "boolean"},
        "must_change_password": {"type": "boolean"},
        "created_at": TIMESTAMP,
    },
    description="An account as the API shows it; `organization` and `organization_id` are always present, null when unset.",
)

POLICY_KIND = {"type": "string", "enum": ["mfa_required", "time_window", "address_allowlist", "rate_limit",
                                          "network_required", "session_recording"]}
# What a stored policy shows: one of POLICY_KIND, or a kind a newer version wrote.
STORED_POLICY_KIND = {"type": "string", "examples": POLICY_KIND["enum"],
                      "description": "One of the kinds a policy is created with; one a newer version wrote during a "
                                     "rolling upgrade shows as stored, and refuses its scope (docs/policies.md)."}
POLICY_DRAFT_PROPERTIES = {
    "name": line(120),
    "description": text(500, min_chars=0, nullable=True),
    "category": line(40, nullable=True, description="A label the portal groups policies by, 1-40 characters once trimmed "
                                                       "(NFC), one line, no control, format, private-use or invisible character; absent or null: "
                                                       "the kind's (`authentication`, `access`, `traffic`, `network`, "
                                                       "`monitoring`)."),
    "kind": POLICY_KIND,
    "enabled": {"type": ["boolean", "null"], "description": "Default true."},
    "weight": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
    "scope": {"oneOf": [{"$ref": "#/components/schemas/PolicyScope"}, {"type": "null"}]},
    "settings": {"oneOf": [{"$ref": "#/components/schemas/PolicySettings"}, {"type": "null"}]},
}
TOTP_CODE = {"type": "string", "pattern": "^[0-9]{6}$", "description": "The six digits the authenticator shows."}
SECOND_FACTOR_CODE = {
    "type": "string",
    "pattern": "^([0-9]{6}|[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4})$",
    "description": "Six digits from the authenticator, or a recovery code (any case, dashes optional).",
}

SCHEMAS = {
    "Error": obj(
        {
            "detail": {"type": "string"},
            "policy": {"type": "string", "description": "A policy's refusal (403, 429): the policy's id."},
            "remedy": {"type": "string", "enum": ["verify_mfa", "enroll_mfa", "wait", "use_allowed_network", "connect_netbird"],
                       "description": "What the caller can do about a policy's refusal."},
            "retry_at": {**TIMESTAMP, "description": "When a time window opens next."},
            "mfa_token": {"type": "string", "pattern": "^neosc_mfa_[A-Za-z0-9_-]{43}$",
                          "description": "A sign-in an `mfa_required` policy refused (`remedy: enroll_mfa`) of an "
                                         "account that can enrol a second factor: single use, no credential; "
                                         "present it at /api/auth/mfa/enroll, then /api/auth/mfa/confirm."},
            "expires_at": {**TIMESTAMP, "description": "When `mfa_token` expires (15 minutes)."},
        },
        required=["detail"], description="Every error; a policy's refusal also names the policy."),
    "Health": obj(
        {"status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]}, "detail": {"type": "string"}},
        required=["status"],
        description="`healthy` (200) carries no `detail`; `degraded` and `unhealthy` (503) say why.",
    ),
    "About": obj({"message": {"type": "string"}, "version": {"type": "string"}}),
    "Floor": obj({"ok": {"type": "boolean", "const": True}}),
    "User": USER,
    "SignedIn": obj(
        {
            "access_token": {"type": "string", "pattern": "^neosc_[A-Za-z0-9_-]{43}$"},
            "token_type": {"type": "string", "const": "bearer"},
            "expires_at": TIMESTAMP,
            "user": schema("User"),
        },
        description="Registration, login, a password change without a token, and every sign-in through a provider.",
    ),
    "SignedOut": obj(
        {"message": {"type": "string"}, "sessions_terminated": {"type": "integer", "minimum": 0},
         "signout_url": {"type": "string", "format": "uri",
                         "description": "Behind Pomerium only: where the browser goes to end its Pomerium session too."}},
        required=["message", "sessions_terminated"]),
    "PasswordChanged": obj({"message": {"type": "string"}, "tokens_revoked": {"type": "integer", "minimum": 0}}),
    "SecondFactorRequired": obj(
        {
            "mfa_required": {"type": "boolean", "const": True},
            "mfa_token": {"type": "string", "pattern": "^neosc_mfa_[A-Za-z0-9_-]{43}$",
                          "description": "Single use; no credential: present it with a code at /api/auth/mfa/verify."},
            "expires_at": TIMESTAMP,
        },
        description="A right password for an account with a second factor (docs/mfa.md): five minutes to present a code.",
    ),
    "TOTPEnrollment": obj(
        {
            "secret": {"type": "string", "pattern": "^[A-Z2-7]+$", "description": "The key in base32."},
            "otpauth_uri": {"type": "string", "pattern": "^otpauth://totp/NeoSC:"},
            "recovery_codes": {"type": "array", "minItems": 10, "maxItems": 10,
                               "items": {"type": "string", "pattern": "^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$"},
                               "description": "Shown once; each accepted once instead of a code."},
        },
        description="Pending until confirmed with a code (`POST /api/auth/mfa/totp/confirm`).",
    ),
    "NetbirdPeerRegistration": obj(
        {"peer_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"}}, required=["peer_id"], additional=True),
    "NetbirdPeerState": obj(
        {"message": {"type": "string"}, "peer_id": {"type": "string"}}, required=["message"]),
    "MFAState": obj({"message": {"type": "string"}, "mfa_enabled": {"type": "boolean"}}),
    "Workspace": obj(WORKSPACE_PROPERTIES, required=WORKSPACE_REQUIRED),
    "ListedWorkspace": obj(
        {**WORKSPACE_PROPERTIES, "active_sessions": {"type": "integer", "minimum": 0}},
        required=WORKSPACE_REQUIRED + ["active_sessions"],
        description="A workspace with its live session count.",
    ),
    "WorkspaceDeleted": obj({"message": {"type": "string"}, "id": {"type": "string"}}),
    "WorkspacesReset": obj(
        {
            "message": {"type": "string"},
            "workspaces": {"type": "integer", "minimum": 0},
            "sessions_terminated": {"type": "integer", "minimum": 0},
        }
    ),
    "Session": obj(
        {
            "id": {"type": "string"},
            "user_id": {"type": "string"},
            "user_email": {"type": "string"},
            "workspace_id": {"type": "string"},
            "workspace_name": {"type": "string"},
            "status": SESSION_STATUS,
            "started_at": TIMESTAMP,
            "ended_at": TIMESTAMP,
            "expires_at": TIMESTAMP,
            "last_seen_at": TIMESTAMP,
            "ip_address": {"type": "string"},
            "mfa_verified": {"type": "boolean"},
            "end_reason": {"type": "string"},
            "recording": {"type": "boolean", "description": "A `session_recording` policy covered its launch."},
        },
        required=["id", "user_id", "user_email", "workspace_id", "workspace_name", "status", "started_at",
                  "last_seen_at", "ip_address", "mfa_verified", "recording"],
    ),
    "Launched": obj(
        {
            "session_id": {"type": "string"},
            "session": schema("Session"),
            "workspace": schema("Workspace"),
            "connection_url": {"type": "string"},
            "launch_mode": {"type": "string", "enum": ["iframe", "new_tab"]},
            "stream_url": {"type": "string", "description": "Set for `iframe` workspaces."},
            "expires_at": TIMESTAMP,
        },
        required=["session_id", "session", "workspace", "connection_url", "launch_mode"],
    ),
    "Stopped": obj({"message": {"type": "string"}, "session": schema("Session")}),
    "Recording": obj(
        {
            "id": {"type": "string"},
            "session_id": {"type": "string"},
            "user_id": {"type": "string"},
            "user_email": {"type": "string"},
            "workspace_id": {"type": "string"},
            "started_at": TIMESTAMP,
            "finished_at": TIMESTAMP,
            "bytes_recorded": {"type": "integer", "minimum": 0, "description": "Bytes the desktop sent."},
            "bytes_stored": {"type": "integer", "minimum": 0, "description": "Bytes on disk (gzip)."},
            "retention_days": {"type": "integer", "minimum": 1},
            "expires_at": TIMESTAMP,
        },
        required=["id", "session_id", "user_id", "user_email", "workspace_id", "started_at", "bytes_recorded",
                  "bytes_stored", "retention_days", "expires_at"],
        description="A recorded workspace stream (docs/streaming.md). `finished_at` is absent while it records.",
    ),
    "StreamTicket": obj(
        {
            "ticket": {"type": "string", "description": "Single use; good for a few seconds, from the address that asked."},
            "session_id": {"type": "string"},
            "stream_url": {"type": "string", "description": "The complete `ws://` or `wss://` URL to open, ticket included."},
            "expires_at": TIMESTAMP,
        },
        description="Opens one WebSocket stream of the session (docs/streaming.md).",
    ),
    "Policy": obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "category": {"type": "string"},
            "kind": STORED_POLICY_KIND,
            "enabled": {"type": "boolean"},
            "weight": {"type": "integer"},
            "scope": schema("PolicyScope"),
            "settings": schema("PolicySettings"),
            "updated_at": TIMESTAMP,
        }
    ),
    "PolicyScope": obj(
        {
            "roles": {"type": "array", "items": {"type": "string", "enum": ["admin", "neosc", "user", "demo-user"]}},
            "organizations": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 64}, "maxItems": 1000,
                              "description": "Ids of organisations that exist (1-64 characters each; one that names no "
                                             "organisation → 422, unless the policy being replaced named it already); "
                                             "repeats are ignored."},
            "workspaces": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 64}, "maxItems": 1000,
                           "description": "Ids of workspaces that exist (1-64 characters each; one that names no "
                                          "workspace → 422, unless the policy being replaced named it already); "
                                          "repeats are ignored. Only for a policy checked at launches: not a `rate_limit`, nor "
                                          "`applies_to: sign_in` (→ 422)."},
        },
        required=[], additional=False, description="Empty or absent lists: everyone. Another key → 422 naming it."),
    "PolicySettings": obj(
        {
            "applies_to": {"type": "string", "enum": ["sign_in", "launch", "all"]},
            "days": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
            "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
            "end": {"type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"},
            "time_zone": {"type": "string", "enum": ["America/Mexico_City", "Europe/Berlin", "UTC", "America/New_York"],
                          "description": "Any IANA zone name (these are examples)."},
            "overnight": {"type": "boolean",
                          "description": "Needed, and only allowed, when `start` is after `end` (a window across midnight); "
                                         "true with `start` before `end` → 422."},
            "cidrs": {"type": "array", "minItems": 1, "maxItems": 1000,
                      "items": {"type": "string", "enum": ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32", "127.0.0.1"],
                                "description": "Any IPv4 or IPv6 address or CIDR block (these are examples)."}},
            "requests": {"type": "integer", "minimum": 1, "maximum": 1000000},
            "per_seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
            "key": {"type": "string", "enum": ["user", "address"]},
            "claim": {"type": "string", "pattern": "^[A-Za-z0-9_:.-]{1,100}$"},
            "retention_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        },
        required=[], additional=False,
        description="The fields of the policy's kind (docs/policies.md); a field of another kind, or one no kind has → 422. Shown with "
                    "defaults filled in."),
    "PolicyCreation": obj(
        {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "not": {"const": "evaluate"},
                   "description": "Generated when absent. Not `evaluate`, the word of `POST /api/policies/evaluate` (422)."},
            **POLICY_DRAFT_PROPERTIES,
        },
        required=["name", "kind"], additional=False,
        description="A time window needs days, start, end and time_zone; an allow-list cidrs; a rate limit requests and per_seconds. "
                    "A key not listed here, in `scope` or in `settings` → 422 naming it."),
    "PolicyDraft": obj(
        POLICY_DRAFT_PROPERTIES,
        required=["name", "kind"], additional=False,
        description="A time window needs days, start, end and time_zone; an allow-list cidrs; a rate limit requests and per_seconds. "
                    "A key not listed here (but `id`, the policy's own), in `scope` or in `settings` → 422 naming it."),
    "PolicyDeleted": obj({"message": {"type": "string"}, "id": {"type": "string"}}),
    "PolicyQuestion": obj(
        {
            "user_id": {"type": ["string", "null"], "maxLength": 200},
            "role": {"type": ["string", "null"], "enum": ["admin", "neosc", "user", "demo-user", None]},
            "organization_id": {"type": ["string", "null"]},
            "workspace_id": {"type": ["string", "null"]},
            "address": {"type": ["string", "null"], "enum": ["192.0.2.1", "10.1.2.3", "2001:db8::1", None],
                        "description": "Any IPv4 or IPv6 address (these are examples)."},
            "at": {"type": ["string", "null"], "enum": ["2023-11-14T22:13:20Z", "2025-03-31T07:00:00Z", None],
                   "description": "Any ISO 8601 time in whole seconds (these are examples); default now."},
            "mfa_verified": {"type": ["boolean", "null"]},
            "stage": {"type": ["string", "null"], "enum": ["sign_in", "launch", "call", None], "description": "Default launch."},
        },
        required=[], additional=False,
        description="`user_id` or `role` (404 for an unknown user or workspace); `workspace_id` only for stage `launch` "
                    "(another → 422); a key not listed here → 422 naming it.",
        anyOf=[{"required": ["user_id"], "properties": {"user_id": {"type": "string"}}},
               {"required": ["role"], "properties": {"role": {"type": "string"}}}],
        # Only a launch names a workspace: `workspace_id` with another stage → 422.
        **{"if": {"required": ["stage"], "properties": {"stage": {"enum": ["sign_in", "call"]}}},
           "then": {"properties": {"workspace_id": {"type": "null"}}}}),
    "PolicyEvaluation": obj(
        {
            "allowed": {"type": "boolean"},
            "verdicts": {"type": "array", "items": obj(
                {
                    "policy": {"type": "string"},
                    "kind": STORED_POLICY_KIND,
                    "verdict": {"type": "string", "enum": ["allow", "deny", "limit", "record", "not_applicable"]},
                    "reason": {"type": "string"},
                    "remedy": {"type": "string"},
                    "retry_at": TIMESTAMP,
                }, required=["policy", "kind", "verdict", "reason"])},
        }),
    "Organization": obj(
        {"id": {"type": "string"}, "name": {"type": "string"}, "domain": {"type": "string"}, "created_at": TIMESTAMP},
        required=["id", "name", "created_at"],
    ),
    "TemporaryPassword": obj(
        {"temporary_password": {"type": "string", "minLength": 8}, "must_change_password": {"type": "boolean", "const": True}}
    ),
    "ThrottleCleared": obj({"addresses_cleared": {"type": "integer", "minimum": 0}}),
    "Stats": obj(
        {
            "scope": {"type": "string", "enum": ["system", "organization", "user"]},
            "active_sessions": {"type": "integer", "minimum": 0},
            "total_workspaces": {"type": "integer", "minimum": 0},
            "available_workspaces": {"type": "integer", "minimum": 0},
            "total_users": {"type": "integer", "minimum": 0},
            "users_with_mfa": {"type": "integer", "minimum": 0},
            "mfa_coverage": {"type": "number", "minimum": 0, "maximum": 1},
            "total_organizations": {"type": "integer", "minimum": 0},
            "policies_enabled": {"type": "integer", "minimum": 0},
            "policies_total": {"type": "integer", "minimum": 0},
            "security_score": {"type": "integer", "minimum": 0, "maximum": 100},
            "logins_24h": {"type": "integer", "minimum": 0},
            "failed_logins_24h": {"type": "integer", "minimum": 0},
        }
    ),
    "AuditEvent": obj(
        {
            "id": {"type": "string"},
            "timestamp": TIMESTAMP,
            "user_id": {"type": "string"},
            "user_email": {"type": "string"},
            "action": {"type": "string"},
            "resource_type": {"type": "string"},
            "resource_id": {"type": "string"},
            "resource": {"type": "string", "description": "`<resource_type>:<resource_id>` (the type alone without an id)."},
            "details": {"type": "object", "additionalProperties": {"type": "string"}},
            "ip_address": {"type": "string"},
            "success": {"type": "boolean"},
            "seq": {"type": "integer", "minimum": 1, "description": "Its place in the audit chain (gap-free from 1)."},
            "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                          "description": "The hash of the entry before it (64 zeros for the first)."},
            "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                     "description": "SHA-256 over the entry and `prev_hash` (docs/audit.md)."},
        },
        required=["id", "timestamp", "action", "details", "success", "seq", "prev_hash", "hash"],
    ),
    "AuditVerification": obj(
        {
            "ok": {"type": "boolean"},
            "entries": {"type": "integer", "minimum": 0, "description": "Entries checked (before the break when not ok)."},
            "first_seq": {"type": "integer", "minimum": 1, "description": "First entry of the kept chain."},
            "head": obj({"seq": {"type": "integer"}, "hash": {"type": "string"}}, required=["seq", "hash"]),
            "checkpoints": {"type": "integer", "minimum": 0},
            "last_checkpoint": obj({"seq": {"type": "integer"}, "signed_at": TIMESTAMP, "key_id": {"type": "string"}},
                                   required=["seq", "signed_at", "key_id"]),
            "broken_at": {"type": "integer", "description": "The seq at which the chain first breaks."},
            "problem": {"type": "string", "description": "What is wrong there."},
        },
        required=["ok", "entries"],
    ),
    "AuditPublicKey": obj(
        {
            "algorithm": {"type": "string", "enum": ["Ed25519"]},
            "public_key": {"type": "string", "description": "Base64 of the raw 32-byte key."},
            "key_id": {"type": "string", "description": "First 8 bytes of the key's SHA-256, in hex."},
            "trusted_keys": {"type": "array", "items": {"type": "string"},
                             "description": "Every key whose checkpoints this server accepts (base64)."},
        },
        required=["algorithm", "public_key", "key_id", "trusted_keys"],
    ),
    "Demo": obj(
        {
            "id": {"type": "string"},
            "user_id": {"type": "string"},
            "workspace_id": {"type": "string"},
            "workspace_type": {"type": "string"},
            "contact_email": {"type": "string"},
            "client_address": {"type": "string"},
            "status": DEMO_STATUS,
            "created_at": TIMESTAMP,
            "expires_at": TIMESTAMP,
            "max_expires_at": TIMESTAMP,
            "ended_at": TIMESTAMP,
            "connection_url": {"type": "string"},
            "completed_steps": {"type": "array", "items": CLEANUP_STEP},
        },
        required=["id", "user_id", "workspace_id", "workspace_type", "client_address", "status", "created_at",
                  "expires_at", "max_expires_at", "completed_steps"],
    ),
    "DemoCreated": obj(
        {
            "demo_session_id": {"type": "string"},
            "expires_at": TIMESTAMP,
            "access_token": {"type": "string", "pattern": "^neosc_[A-Za-z0-9_-]{43}$"},
            "token_type": {"type": "string", "const": "bearer"},
            "workspace": schema("Workspace"),
            "connection_url": {"type": "string"},
        },
        required=["demo_session_id", "expires_at", "access_token", "token_type", "workspace"],
    ),
    # ---- request bodies: unknown keys are ignored (additionalProperties: true), but by a policy's,
    # a workspace's, an organisation's and a user change's bodies, which refuse them (422), since a
    # misspelt key there widens what the policy covers or whom the workspace admits;
    # an optional key sent as null counts as absent.
    "Registration": obj(
        {
            "email": EMAIL,
            "password": PASSWORD,
            "name": line(120),
            "organization": {
                "description": (
                    "An organisation to found, owned by the e-mail address's domain; an existing one → 409 (an "
                    "administrator adds its members); blank or null: none. Otherwise the rules of a name."
                ),
                "anyOf": [{"type": "null"}, {"type": "string", "pattern": f"^[{WS}]*$"}, line(120)],
            },
        },
        required=["email", "password", "name"],
        additional=True,
    ),
    "Credentials": obj(
        {
            "email": {"type": "string", "maxLength": 254, "pattern": r"^[\x20-\x7E]*$",
                      "description": "Any string; over 254 bytes (trimmed) → 422. Only ASCII can match an account."},
            "password": {"type": "string", "maxLength": 128,
                         "description": "Any string; over 512 UTF-8 bytes → 422."},
        },
        additional=True,
    ),
    "MFAVerification": obj(
        {"mfa_token": {"type": "string", "maxLength": 128}, "code": SECOND_FACTOR_CODE},
        required=["mfa_token", "code"], additional=True),
    "MFAConfirmation": obj({"code": TOTP_CODE}, required=["code"], additional=True),
    "MFAEnrollmentChallenge": obj(
        {"mfa_token": {"type": "string", "maxLength": 128}}, required=["mfa_token"], additional=True),
    "MFAEnrollmentConfirmation": obj(
        {"mfa_token": {"type": "string", "maxLength": 128}, "code": TOTP_CODE},
        required=["mfa_token", "code"], additional=True),
    "MFARemoval": obj(
        {
            "password": {"type": "string", "maxLength": 128, "description": "The account's own password; over 512 UTF-8 bytes → 422."},
            "code": {**SECOND_FACTOR_CODE, "type": ["string", "null"],
                     "description": "Required once the enrolment is confirmed: a code or an unused recovery code."},
        },
        required=["password"], additional=True),
    "PasswordChange": obj(
        {
            "email": {"type": ["string", "null"], "maxLength": 254, "pattern": r"^[\x20-\x7E]*$",
                      "description": "Required without a token; ignored with one."},
            "current_password": {"type": "string", "maxLength": 128},
            "new_password": {**PASSWORD, "description": "A valid password that differs from the current one."},
            "code": {**SECOND_FACTOR_CODE, "type": ["string", "null"],
                     "description": "Without a token, for an account with a second factor: a code or a recovery code."},
        },
        required=["current_password", "new_password"],
        additional=True,
    ),
    "CodeExchange": obj(
        {
            "code": {"type": "string", "minLength": 1, "maxLength": 2048, "pattern": r"^[\x21-\x7E]*$"},
            "code_verifier": {"type": "string", "pattern": r"^[A-Za-z0-9._~-]{43,128}$"},
            "redirect_uri": {"type": "string", "format": "uri"},
            "nonce": {"type": ["string", "null"]},
        },
        required=["code", "code_verifier", "redirect_uri"],
        additional=True,
    ),
    "IDTokenSignIn": obj({"id_token": {"type": "string"}}, additional=True),
    "WorkspaceCreate": obj(
        {
            "id": {**SLUG, "type": ["string", "null"], "not": {"const": "reset"},
                   "description": "Chosen, or generated when absent or null; 409 if taken. Not `reset`, the word of "
                                  "`POST /api/workspaces/reset` (422)."},
            **WORKSPACE_DRAFT,
            "name": line(120),
            "type": line(40),
            "url": URL,
        },
        required=["name", "type", "url"],
        additional=False,
        description="A new workspace: `name`, `type` and `url` required; every other field defaults (an available "
                    "2-CPU/4-GiB/20-GiB workspace for admin and neosc, 480 minutes, iframe, no stream upstream). "
                    "Null means absent. A key not listed here → 422 naming it.",
    ),
    "WorkspaceUpdate": obj(
        WORKSPACE_DRAFT,
        required=[],
        additional=False,
        description="Any subset of a workspace's fields; null means absent (but a null `stream_upstream` removes "
                    "the workspace's stream upstream). `id` may be sent only with the "
                    "workspace's own id (another → 422), so it is not listed here. Another key not listed → 422 "
                    "naming it. Asking for what already holds answers the workspace and writes and audits nothing.",
    ),
    "PolicyChange": obj(
        {"enabled": {"type": ["boolean", "null"], "description": "Sets it; absent or null flips it."}},
        required=[],
        additional=False,
        description="Another key → 422 naming it.",
    ),
    "OrganizationDraft": obj(
        {
            "name": line(120),
            "domain": {
                "type": ["string", "null"],
                "maxLength": 253,
                "pattern": r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$",
                "description": "A DNS name such as example.com (stored lower-case); null: none.",
            },
        },
        required=["name"],
        additional=False,
        description="Another key → 422 naming it.",
    ),
    "UserChange": {
        **obj(
            {"role": {"type": ["string", "null"], "enum": ["admin", "neosc", "user", None],
                      "description": "demo-user comes with a demo and is never given this way (422); nor is a demo visitor's account given another role (409)."},
             "disabled": {"type": ["boolean", "null"]},
             "organization_id": {"type": ["string", "null"],
                                 "description": "The organisation the account is to belong to (an id from `GET /api/organizations`; "
                                                "another → 422); null: none. Absent: as it is. Not for a demo visitor's account (409)."}},
            required=[],
            additional=False,
        ),
        "anyOf": [
            {"required": ["role"], "properties": {"role": {"type": "string", "enum": ["admin", "neosc", "user"]}}},
            {"required": ["disabled"], "properties": {"disabled": {"type": "boolean"}}},
            {"required": ["organization_id"]},
        ],
        "description": "At least one of `role`, `disabled` (not null) and `organization_id`. Another key → 422 naming it.",
    },
    "DemoCreation": obj(
        {
            "workspace_type": {**line(40), "examples": ["browser"], "description": "A workspace type offered for demos (available, open to demo-user; `browser` in the default catalogue); another → 422."},
            "email": {**EMAIL, "type": ["string", "null"], "description": "A contact address, kept as `contact_email`; null: none."},
        },
        required=["workspace_type"],
        additional=True,
    ),
    "DemoExtension": obj({"minutes": {"type": "integer", "minimum": 1, "maximum": 1440}}, additional=True),
}

# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------

ERR = schema("Error")
RESPONSES = {
    "BadRequest": ok("The body is not JSON, not an object, empty when one is required, or not UTF-8.", ERR),
    "Unauthorized": ok("No credential, or an invalid, expired or revoked one.", ERR, ["WWW-Authenticate"]),
    "Forbidden": ok("Signed in, but the role may not (admin-only routes record an `access_denied` audit entry); or "
                    "a policy refused the request (`policy`, `remedy`, and for a time window `retry_at`; audited "
                    "`policy_denied`).", ERR),
    "NotFound": ok("Unknown route or id (also someone else's session or demo).", ERR),
    "Conflict": ok("State conflict.", ERR),
    "ContentTooLarge": ok("Body over 1 MiB.", ERR),
    "UnsupportedMediaType": ok("The body declares a Content-Type that is not JSON (`application/json` or "
                               "`application/…+json`); a body that declares none is read as JSON.", ERR),
    "Unprocessable": ok("A field is missing, null, of the wrong type or out of range; or a bad query parameter.", ERR),
    "TooManyRequests": ok("Too many attempts, or a `rate_limit` policy's limit (`policy`, and the `RateLimit-Policy` and "
                          "`RateLimit` fields); `Retry-After` gives the seconds to wait.", ERR, ["Retry-After"]),
    "Unavailable": ok("The store (or a provider, or the password hasher's queue) is unavailable.", ERR),
}


def responses(success, *codes):
    """`success`: {status: response}; `codes`: error statuses to add."""
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
             413: "ContentTooLarge", 422: "Unprocessable", 429: "TooManyRequests", 503: "Unavailable"}
    result = {str(k): v for k, v in success.items()}
    for code in sorted(codes):
        result[str(code)] = ref("responses", names[code])
    return result


def body(name, required=True):
    return {"required": required, "content": {"application/json": {"schema": schema(name)}}}


PUBLIC = []  # security: [] (no credential needed)
OPTIONAL_AUTH = [{}, {"bearerAuth": []}]

# Parameters
PARAMETERS = {
    "Limit": {"name": "limit", "in": "query", "required": False,
              "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
    "Offset": {"name": "offset", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 0, "maximum": 9223372036854775807, "default": 0}},
    "UserIDFilter": {"name": "user_id", "in": "query", "required": False,
                     "description": "Administrators only; ignored for anyone else (but still checked: an id's "
                                    "letters, digits, `-` and `_`, else 422); empty: no filter.",
                     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{0,100}$"}},
    "ID": {"name": "id", "in": "path", "required": True,
           "schema": {"type": "string", "minLength": 1, "not": {"enum": [".", ".."]}}},
    "WorkspaceID": {"name": "id", "in": "path", "required": True, "description": "A workspace id.",
                    "schema": {"type": "string", "minLength": 1, "not": {"enum": [".", ".."]},
                               "examples": ["ws-secure-browser", "ws-linux-desktop"]}},
    "PolicyID": {"name": "id", "in": "path", "required": True, "description": "A policy id.",
                 "schema": {"type": "string", "minLength": 1, "not": {"enum": [".", ".."]},
                            "examples": ["pol-session-recording"]}},
    "SessionID": {"name": "id", "in": "path", "required": True,
                  "description": "A session id. (`active` is the list route's, not an id.)",
                  "schema": {"type": "string", "minLength": 1, "not": {"enum": [".", "..", "active"]}}},
}
P = lambda name: ref("parameters", name)

# ---------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------

paths = {}


def op(method, path, operation_id, summary, responses_, *, security=None, request=None, parameters=None, tags=None,
       description=None, extra=None):
    o = {"operationId": operation_id, "summary": summary}
    if description:
        o["description"] = description
    if tags:
        o["tags"] = tags
    if parameters:
        o["parameters"] = parameters
    if request:
        o["requestBody"] = request
        responses_ = {**responses_, "415": ref("responses", "UnsupportedMediaType")}
        responses_ = dict(sorted(responses_.items()))
    if security is not None:
        o["security"] = security
    o["responses"] = responses_
    if extra:
        o.update(extra)
    paths.setdefault(path, {})[method] = o


# Service -------------------------------------------------------------------------------------
op("get", "/health", "health", "Health check (the store: a read and a one-row write)", {
    "200": ok("`{\"status\":\"healthy\"}`.", schema("Health")),
    "503": ok("`degraded`: the store answers reads but refuses writes (full disk, read-only file, no MongoDB "
              "primary), or behind Pomerium its signing keys have never been fetched; `unhealthy`: the store does "
              "not answer.", schema("Health")),
}, security=PUBLIC, tags=["service"],
   description="Checked at most once a second, however often it is asked.")
for path, oid in (("/api", "about"), ("/api/", "aboutSlash")):
    op("get", path, oid, "What this is", {"200": ok("Name and version.", schema("About"))},
       security=PUBLIC, tags=["service"])
op("get", "/api/openapi.json", "openapi", "This document", {
    "200": ok("OpenAPI 3.1.0, as JSON.", {"type": "object"}),
}, security=PUBLIC, tags=["service"])
op("get", "/metrics", "metrics", "Prometheus exposition", {
    "200": ok("Text exposition format 0.0.4.", {"type": "string"}, media="text/plain"),
    "404": ref("responses", "NotFound"),
}, security=PUBLIC, tags=["service"],
   description="Only for TCP peers in `NEOSC_METRICS_ALLOW` (default loopback); anyone else gets the 404 of an unknown path. "
               "With `NEOSC_METRICS_PORT`, served on that port alone (404 here).")
op("get", "/bench/floor", "benchmarkFloor", "Benchmark floor (no work)", {
    "200": ok("`{\"ok\":true}`.", schema("Floor")),
    "404": ref("responses", "NotFound"),
}, security=PUBLIC, tags=["service"],
   description="Served only with `NEOSC_BENCHMARK_ROUTES=true` (404 otherwise); never in production.")

# Authentication --------------------------------------------------------------------------------
op("post", "/api/auth/register", "register", "Create a `user` account and sign in",
   responses({201: ok("Signed in.", schema("SignedIn"))}, 400, 403, 409, 413, 422, 429, 503),
   security=PUBLIC, request=body("Registration"), tags=["auth"],
   description="403 when `NEOSC_ALLOW_REGISTRATION=false`, or a policy refuses the sign-in (then no account is "
               "made, except when an `mfa_required` policy asks for a second factor: the account is made and the "
               "refusal carries `mfa_token` to enrol one at /api/auth/mfa/enroll); 409 for a taken e-mail or an existing organisation "
               "(an administrator adds its members); 429 past 20 attempts an hour from one address; 503 when the "
               "password hasher's queue is full.")
op("post", "/api/auth/login", "login", "Sign in with e-mail and password",
   responses({200: ok("Signed in, or (an account with a second factor) a challenge.",
                      {"oneOf": [schema("SignedIn"), schema("SecondFactorRequired")]})},
             400, 401, 403, 413, 422, 429, 503),
   security=PUBLIC, request=body("Credentials"), tags=["auth"],
   description="401 `Invalid credentials` for every refusal; 403 `Password change required` after an "
               "administrator's reset, or a policy's refusal (an `mfa_required` one of an account without a second "
               "factor carries `mfa_token`: enrol at /api/auth/mfa/enroll to complete the sign-in); 422 for an e-mail over 254 bytes or a password over 512 bytes; 429 when throttled.")
op("post", "/api/auth/password", "changePassword", "Change the password",
   responses({200: ok("Signed in: `PasswordChanged`; without a token: `SignedIn`, or `SecondFactorRequired` "
                      "for an account with a second factor.",
                      {"oneOf": [schema("PasswordChanged"), schema("SignedIn"), schema("SecondFactorRequired")]})},
             400, 401, 403, 409, 413, 422, 429, 503),
   security=OPTIONAL_AUTH, request=body("PasswordChange"), tags=["auth"],
   description="Signed in: `{current_password, new_password}`; a wrong current password → 422; an account "
               "that signs in only through a provider → 409. Without a valid token (none, or one that is invalid, "
               "expired or revoked): `{email, current_password, new_password}` for any account with a password "
               "(meant for one an administrator reset), a wrong one → 401, `email` missing → 401. Wrong passwords "
               "count as failed logins (429 when throttled). Without a token, a policy's refusal of the sign-in → 403, "
               "the password unchanged; but an `mfa_required` one of an account without a second factor answers 403 "
               "with `mfa_token` after changing the password (enrol at /api/auth/mfa/enroll to sign in). A change "
               "ends every active workspace session of the account (`password_changed`).")
op("post", "/api/auth/mfa/verify", "verifySecondFactor", "The second step of a sign-in: a code for the challenge",
   responses({200: ok("Signed in; the token's sessions are MFA-verified.", schema("SignedIn"))},
             400, 401, 413, 422, 429, 503),
   security=PUBLIC, request=body("MFAVerification"), tags=["auth"],
   description="401 for an unknown, spent or expired `mfa_token` (five minutes), a disabled account, or a wrong, "
               "replayed or spent code; the challenge stays usable after a wrong code. 429 after 5 wrong codes "
               "for the account in 15 minutes. Audited `mfa_verified`, `mfa_failed`, `recovery_code_used`, `login`.")
op("post", "/api/auth/mfa/enroll", "enrollToSignIn", "Enrol a second factor to complete a refused sign-in",
   responses({200: ok("The key and recovery codes, shown once.", schema("TOTPEnrollment"))},
             400, 401, 403, 409, 413, 422, 429, 503),
   security=PUBLIC, request=body("MFAEnrollmentChallenge"), tags=["auth"],
   description="With the `mfa_token` of a sign-in's 403 (`remedy: enroll_mfa`: an `mfa_required` policy, docs/policies.md). "
               "401 for an unknown, spent or expired token (15 minutes; a password change, reset or disabling removes it), "
               "a disabled account, or one that has a confirmed second factor by now; 403 when a policy refuses the "
               "sign-in now; 409 when a second factor was confirmed meanwhile; 429 past 10 keys for the account in 15 "
               "minutes. Replaces a pending enrolment. Audited `mfa_enrollment_started`.")
op("post", "/api/auth/mfa/confirm", "confirmToSignIn", "Confirm that enrolment with a code and sign in",
   responses({200: ok("Signed in; the token's sessions are MFA-verified.", schema("SignedIn"))},
             400, 401, 403, 409, 413, 422, 429, 503),
   security=PUBLIC, request=body("MFAEnrollmentConfirmation"), tags=["auth"],
   description="401 as for `enroll`; 403 when another policy refuses the sign-in now; 409 with no pending enrolment; "
               "422 for a wrong code (counted; 429 past 5; the token stays usable). Spends the token. Audited "
               "`mfa_enrolled`, `mfa_verified`, `login`.")
op("post", "/api/auth/mfa/totp/enroll", "enrollTOTP", "Start (or restart) TOTP enrolment",
   responses({200: ok("The key and recovery codes, shown once.", schema("TOTPEnrollment"))}, 401, 403, 409, 503),
   tags=["auth"],
   description="403 for a demo account; 409 when MFA is already enabled, or for an account that signs in only "
               "through a provider. Replaces a pending enrolment. Audited `mfa_enrollment_started`.")
op("post", "/api/auth/mfa/totp/confirm", "confirmTOTP", "Confirm the pending enrolment with a code",
   responses({200: ok("MFA is enabled.", schema("MFAState"))}, 400, 401, 403, 409, 413, 422, 429, 503),
   request=body("MFAConfirmation"), tags=["auth"],
   description="409 with no pending enrolment; 422 for a wrong code (counted; 429 past 5). Audited `mfa_enrolled`.")
op("delete", "/api/auth/mfa/totp", "removeTOTP", "Remove the caller's second factor",
   responses({200: ok("MFA is off.", schema("MFAState"))}, 400, 401, 403, 409, 413, 422, 429, 503),
   request=body("MFARemoval"), tags=["auth"],
   description="409 without an enrolment; 422 for a wrong password (counted as a failed login) or a wrong code. "
               "Audited `mfa_reset`.")
op("post", "/api/auth/logout", "logout", "Revoke this token and end the caller's active sessions",
   responses({200: ok("Signed out.", schema("SignedOut"))}, 401, 503), tags=["auth"])
op("get", "/api/auth/me", "me", "The caller's account",
   responses({200: ok("The user.", schema("User"))}, 401, 503), tags=["auth"])

SSO_NOTE = "404 unless `ZITADEL_AUTHORITY` is set (identity.md)."
op("post", "/api/auth/token-exchange", "tokenExchange", "Redeem an authorization code (PKCE) at the OpenID provider",
   responses({200: ok("Signed in.", schema("SignedIn"))}, 400, 401, 403, 404, 409, 413, 422, 503),
   security=PUBLIC, request=body("CodeExchange"), tags=["sso"], description=SSO_NOTE)
op("post", "/api/auth/sso", "ssoIdToken", "Sign in with an ID token",
   responses({200: ok("Signed in.", schema("SignedIn"))}, 400, 401, 403, 404, 409, 413, 422, 503),
   security=PUBLIC, request=body("IDTokenSignIn"), tags=["sso"], description=SSO_NOTE)
op("get", "/api/auth/oidc/start", "oidcStart", "Start the browser sign-in",
   responses({302: {"description": "To the provider; sets the `neosc_oidc_state` cookie (`__Host-neosc_oidc_state` when the callback URL is https).",
                    "headers": {**common_headers(),
                                "Location": {"required": True, "schema": {"type": "string"}},
                                "Set-Cookie": {"required": True, "schema": {"type": "string"}}}}},
             404, 503),
   security=PUBLIC, tags=["sso"], description=SSO_NOTE + " Also 404 without `NEOSC_PUBLIC_URL`.")
op("get", "/api/auth/oidc/callback", "oidcCallback", "Complete the browser sign-in",
   responses({
       303: {"description": "To `NEOSC_PORTAL_URL#access_token=…&token_type=bearer&expires_at=…`.",
             "headers": {**common_headers(), "Location": {"required": True, "schema": {"type": "string"}}}},
       200: {**ok("Signed in, without `NEOSC_PUBLIC_URL`'s portal: the session cookie set, and a page that moves on "
                  "to `/` (a meta refresh, not a redirect: the navigation began at the provider, so the browser would not "
                  "send the SameSite=Strict cookie with a redirect).", {"type": "string"}, media="text/html"),
             "headers": {**common_headers(), "Set-Cookie": {"required": True, "schema": {"type": "string"}}}},
   }, 401, 403, 404, 409, 422, 503),
   security=PUBLIC, tags=["sso"], description=SSO_NOTE,
   parameters=[
       {"name": "code", "in": "query", "required": False, "schema": {"type": "string"}},
       {"name": "state", "in": "query", "required": False, "schema": {"type": "string"}},
       {"name": "error", "in": "query", "required": False, "schema": {"type": "string"}},
       {"name": "neosc_oidc_state", "in": "cookie", "required": False, "schema": {"type": "string"},
        "description": "The `state` of `/oidc/start` (named `__Host-neosc_oidc_state` when the callback URL is https)."},
   ])

# Workspaces ------------------------------------------------------------------------------------
op("get", "/api/workspaces", "listWorkspaces", "Workspaces the caller's role may see",
   responses({200: ok("Each with `active_sessions`.", {"type": "array", "items": schema("ListedWorkspace")})}, 401, 503),
   tags=["workspaces"])
op("post", "/api/workspaces", "createWorkspace", "Create a workspace (admin)",
   responses({201: ok("The workspace.", schema("Workspace"))}, 400, 401, 403, 409, 413, 422, 503),
   request=body("WorkspaceCreate"), tags=["workspaces"],
   description="`name`, `type` and `url` are required (422 otherwise); 409 when the id is taken.")
op("post", "/api/workspaces/reset", "resetWorkspaces", "Restore the default catalogue (admin)",
   responses({200: ok("Counts.", schema("WorkspacesReset"))}, 401, 403, 503), tags=["workspaces"])
op("get", "/api/workspaces/{id}", "getWorkspace", "One workspace",
   responses({200: ok("With `active_sessions`.", schema("ListedWorkspace"))}, 401, 403, 404, 503),
   parameters=[P("WorkspaceID")], tags=["workspaces"],
   description="403 when the caller's role is not in `allowed_roles` (admins see all); a demo user only its demo's.")
op("put", "/api/workspaces/{id}", "updateWorkspace", "Update a workspace (admin)",
   responses({200: ok("The updated workspace.", schema("Workspace"))}, 400, 401, 403, 404, 413, 422, 503),
   parameters=[P("WorkspaceID")], request=body("WorkspaceUpdate"), tags=["workspaces"],
   description="Any subset of fields; `id` cannot change (422). An unknown id is 404 whatever the body.")
op("delete", "/api/workspaces/{id}", "deleteWorkspace", "Delete a workspace (admin)",
   responses({200: ok("`{message, id}`; its active sessions end.", schema("WorkspaceDeleted"))}, 401, 403, 404, 503),
   parameters=[P("WorkspaceID")], tags=["workspaces"])
op("post", "/api/workspaces/{id}/launch", "launchWorkspace", "Launch a session",
   responses({201: ok("The session.", schema("Launched"))}, 401, 403, 404, 409, 503),
   parameters=[P("WorkspaceID")], tags=["workspaces"],
   description="403 when the role is not in `allowed_roles`; 409 when the workspace is not available or the "
               "caller holds `NEOSC_MAX_SESSIONS_PER_USER` active sessions.")
op("post", "/api/workspaces/{id}/stop", "stopWorkspace", "End the caller's newest active session on it",
   responses({200: ok("The ended session.", schema("Stopped"))}, 401, 404, 409, 503),
   parameters=[P("WorkspaceID")], tags=["workspaces"], description="409 if the caller has none.")

# Sessions --------------------------------------------------------------------------------------
op("get", "/api/sessions", "listSessions", "Sessions, newest first",
   responses({200: ok("Own sessions (admins: everyone's, or `user_id`'s).", {"type": "array", "items": schema("Session")})},
             401, 422, 503),
   parameters=[
       {"name": "status", "in": "query", "required": False,
        "schema": {"type": "string", "enum": ["active", "disconnected", "terminated", "expired", ""]},
        "description": "Empty: no filter."},
       P("Limit"), P("UserIDFilter"),
   ], tags=["sessions"])
op("get", "/api/sessions/active", "listActiveSessions", "Active sessions, newest first",
   responses({200: ok("As above, `active` only.", {"type": "array", "items": schema("Session")})}, 401, 422, 503),
   parameters=[P("Limit"), P("UserIDFilter")], tags=["sessions"])
op("get", "/api/sessions/{id}", "getSession", "One session (owner or admin)",
   responses({200: ok("The session.", schema("Session"))}, 401, 404, 503), parameters=[P("SessionID")], tags=["sessions"])
op("post", "/api/sessions/{id}/disconnect", "disconnectSession", "Disconnect a session (owner or admin)",
   responses({200: ok("Now `disconnected`.", schema("Session"))}, 401, 404, 409, 503),
   parameters=[P("SessionID")], tags=["sessions"], description="409 if it was not active.")
op("post", "/api/sessions/{id}/heartbeat", "heartbeatSession", "Keep a session alive (owner or admin)",
   responses({200: ok("`last_seen_at` moved to now.", schema("Session"))}, 401, 404, 409, 503),
   parameters=[P("SessionID")], tags=["sessions"], description="409 if it was not active.")

op("post", "/api/sessions/{id}/stream-ticket", "streamTicket", "A ticket to open the session's workspace stream (owner only)",
   responses({201: ok("The ticket and the WebSocket URL to open with it.", schema("StreamTicket"))}, 401, 403, 404, 409, 429, 503),
   parameters=[P("SessionID")], tags=["sessions"],
   description="409 if streaming is off (`NEOSC_STREAM_UPSTREAMS` unset), the session is not active, or its workspace "
               "has no `stream_upstream`; 403 when a policy refuses the session now; 404 for a session that is not "
               "the caller's (administrators included). "
               "The stream closes with code 4000 and the reason when the session ends (docs/streaming.md).")

# Recordings --------------------------------------------------------------------------------------
op("get", "/api/recordings", "listRecordings", "Recorded streams, newest first (admin)",
   responses({200: ok("Every recording kept.", {"type": "array", "items": schema("Recording")})}, 401, 403, 503),
   tags=["sessions"])
op("get", "/api/recordings/{id}", "downloadRecording", "Download a recording (admin; audited)",
   responses({200: ok("The gzip file: records of 8 bytes (milliseconds since the stream opened), 4 bytes (length) "
                      "and the bytes the desktop sent, big-endian.", {"type": "string", "contentEncoding": "binary"},
                      media="application/gzip")}, 401, 403, 404, 503),
   parameters=[P("ID")], tags=["sessions"])
op("delete", "/api/recordings/{id}", "deleteRecording", "Delete a recording (admin; audited)",
   responses({204: ok("Deleted.", None)}, 401, 403, 404, 503), parameters=[P("ID")], tags=["sessions"])

# Demo sessions ---------------------------------------------------------------------------------
op("post", "/api/integrations/zitadel/token-claims", "zitadelTokenClaims",
   "Claims for a token Zitadel is issuing (Zitadel Actions v2 target)",
   responses({200: ok("The claims to append.", {
       "type": "object", "required": ["append_claims"], "additionalProperties": False,
       "properties": {"append_claims": {"type": "array", "items": {
           "type": "object", "required": ["key", "value"], "additionalProperties": False,
           "properties": {"key": {"type": "string"},
                          "value": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}},
                                              {"type": "number"}]}}}}}})}, 400, 401, 404, 413, 503),
   security=PUBLIC, tags=["sso"],
   request={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
   parameters=[{"name": "ZITADEL-Signature", "in": "header", "required": True, "schema": {"type": "string"},
                "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">` under the target's signing key."}],
   description="Served only with `ZITADEL_ACTIONS_SIGNING_KEY` (404 otherwise). The body is Zitadel's `preuserinfo` or "
               "`preaccesstoken` function call; 401 without a valid signature no older than 300 s. Answers `groups` (the "
               "NeoSC roles of the grants on NeoSC's project) and, for the verified contact address of an active demo, "
               "`neosc:demo_session_id`, `neosc:demo_expires_at`, `neosc:workspace_type`, `neosc:max_duration` with the "
               "`demo-user` group (docs/identity.md).")
op("post", "/api/demo/sessions", "createDemo", "Start a just-in-time demo",
   responses({201: ok("The demo's token and workspace.", schema("DemoCreated"))}, 400, 404, 413, 422, 429, 503),
   security=PUBLIC, request=body("DemoCreation"), tags=["demos"],
   description="404 unless `NEOSC_DEMO_ENABLED`; 422 when no workspace of that type is offered for demos; 429 "
               "past the active or hourly limits (`Retry-After`); 503 when provisioning failed.")
op("get", "/api/demo/sessions", "listDemos", "Demos, newest first (admin: all; a demo user: its own)",
   responses({200: ok("Demos.", {"type": "array", "items": schema("Demo")})}, 401, 403, 422, 503),
   parameters=[P("Limit")], tags=["demos"],
   description="403 for `neosc` and `user`. Only `POST /api/demo/sessions` answers 404 when demos are off; this "
               "and the other demo routes answer as usual (an empty list, 404 for an unknown id).")
op("get", "/api/demo/sessions/{id}", "getDemo", "One demo (admin or its visitor)",
   responses({200: ok("The demo.", schema("Demo"))}, 401, 404, 503), parameters=[P("ID")], tags=["demos"])
op("delete", "/api/demo/sessions/{id}", "endDemo", "End a demo now (admin or its visitor)",
   responses({200: ok("The demo, `status: ended`, after its clean-up.", schema("Demo"))}, 401, 404, 409, 503),
   parameters=[P("ID")], tags=["demos"], description="409 when it is no longer active.")
op("post", "/api/demo/sessions/{id}/extend", "extendDemo", "Extend a demo (admin)",
   responses({200: ok("The demo; capped at `max_expires_at`.", schema("Demo"))}, 400, 401, 403, 404, 409, 413, 422, 503),
   parameters=[P("ID")], request=body("DemoExtension"), tags=["demos"],
   description="409 when already at `max_expires_at` or not active.")

# Audit log -------------------------------------------------------------------------------------
# The filters the list and the export share.
AUDIT_FILTERS = [
    {"name": "action", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[a-z_]{0,64}$"},
     "description": "An action as it is spelt (`launch_workspace`); empty: no filter. Anything else → 422, since an "
                    "export's filters are written into its own entry."},
    P("UserIDFilter"),
    {"name": "success", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01])$"},
     "description": "`true`/`false` (any case) or `1`/`0`."},
    {"name": "since", "in": "query", "required": False, "schema": QUERY_TIMESTAMP},
    {"name": "until", "in": "query", "required": False, "schema": QUERY_TIMESTAMP},
    {"name": "before", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{0,100}$"},
     "description": "An entry's id: only the entries after it in this order (the next page). "
                    "An id not in the trail gives none; one that could be no id → 422."},
]
op("get", "/api/audit-logs", "listAuditLogs", "The audit trail, newest first",
   responses({200: ok("Entries (non-admins: only their own).", {"type": "array", "items": schema("AuditEvent")})},
             401, 422, 503),
   parameters=[
       *AUDIT_FILTERS,
       P("Limit"),
   ], tags=["audit"])
op("get", "/api/audit-logs/export", "exportAuditLogs", "Download the audit trail (CSV or JSON lines)",
   responses({200: {**ok("Every matching entry, newest first (non-admins: only their own), streamed; "
                         "`Content-Disposition: attachment`.", {"type": "string"}, media="text/csv"),
                    "content": {"text/csv": {"schema": {"type": "string"}},
                                "application/x-ndjson": {"schema": {"type": "string"}}}}},
             401, 422, 503),
   parameters=[
       {"name": "format", "in": "query", "required": True, "schema": {"type": "string", "enum": ["csv", "jsonl"]},
        "description": "`csv`: RFC 4180 with a header row (`id,timestamp,user_id,user_email,action,resource,"
                       "resource_type,resource_id,success,ip_address,details,seq,prev_hash,hash`, details as a JSON object; a value "
                       "that starts with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'`); `jsonl`: one entry "
                       "per line, as the list has it."},
       *AUDIT_FILTERS,
   ], tags=["audit"],
   description="Read a page at a time (memory stays one page, whatever the size); the first page is read before "
               "the answer starts (503 then, not a cut download). Audited `audit_exported` with the format and filters.")

op("get", "/api/audit-logs/verify", "verifyAuditLogs", "Verify the audit chain and its signed checkpoints",
   responses({200: ok("`ok` true with the head, or false with the first broken `seq` and what is wrong there "
                      "(`broken_at` 0: entries outside the chain).",
                      schema("AuditVerification"))}, 401, 403, 409, 422, 503),
   parameters=[{"name": "expect", "in": "query", "required": False,
                "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,17}:[0-9a-fA-F]{64}$"},
                "description": "`<seq>:<hash>` of an entry noted earlier (a head a verification reported; `seq` in at most "
                               "18 digits): the trail "
                               "must still hold it, as it was. Catches entries removed from the end together with "
                               "their checkpoints."}],
   tags=["audit"],
   description="Administrators. Walks every entry in `seq` order: each hash must match the entry's contents and link "
               "to the entry before; no `seq` may be missing; every checkpoint must be signed by a trusted key and "
               "match the entry it names, the trail must reach the newest one, every 1,000th entry but the newest "
               "must be checkpointed, and no entry may be outside the chain. One verification at a time "
               "(409 otherwise). Audited `audit_verified`.")
op("get", "/api/audit-logs/public-key", "auditPublicKey", "The key that signs the audit chain's checkpoints",
   {"200": ok("The Ed25519 public key.", schema("AuditPublicKey"))}, security=PUBLIC, tags=["audit"])

# Policies --------------------------------------------------------------------------------------
op("get", "/api/policies", "listPolicies", "All policies",
   responses({200: ok("Policies; none for a demo visitor.", {"type": "array", "items": schema("Policy")})}, 401, 503),
   tags=["policies"])
op("get", "/api/policies/{id}", "getPolicy", "One policy",
   responses({200: ok("The policy.", schema("Policy"))}, 401, 404, 503), parameters=[P("PolicyID")], tags=["policies"],
   description="404 for a demo visitor, who reads no policy.")
op("post", "/api/policies", "createPolicy", "Create a policy (admin)",
   responses({201: ok("The policy.", schema("Policy"))}, 400, 401, 403, 409, 413, 422, 503),
   request=body("PolicyCreation"), tags=["policies"],
   description="422 naming the field for an unknown kind, a bad time zone, `start` ≥ `end` without `overnight`, an "
               "unparsable CIDR, a non-positive limit; 409 for a taken id. Audited `create_policy`.")
op("post", "/api/policies/evaluate", "evaluatePolicies", "Each enabled policy's verdict on a request (admin)",
   responses({200: ok("Verdicts, without side effects.", schema("PolicyEvaluation"))}, 400, 401, 403, 404, 413, 422, 503),
   request=body("PolicyQuestion"), tags=["policies"])
op("put", "/api/policies/{id}", "replacePolicy", "Replace a policy (admin)",
   responses({200: ok("The policy.", schema("Policy"))}, 400, 401, 403, 404, 413, 422, 503),
   parameters=[P("PolicyID")], request=body("PolicyDraft"), tags=["policies"],
   description="Validated as on creation; `id`, if sent, must be the policy's own. Audited `update_policy`.")
op("delete", "/api/policies/{id}", "deletePolicy", "Delete a policy (admin)",
   responses({200: ok("Deleted.", schema("PolicyDeleted"))}, 401, 403, 404, 409, 503),
   parameters=[P("PolicyID")], tags=["policies"],
   description="409 for the three defaults (switch them off instead). Audited `delete_policy`.")
op("patch", "/api/policies/{id}", "togglePolicy", "Set or flip a policy (admin)",
   responses({200: ok("The policy.", schema("Policy"))}, 400, 401, 403, 404, 413, 422, 503),
   parameters=[P("PolicyID")], request=body("PolicyChange", required=False), tags=["policies"],
   description="`{\"enabled\": bool}` sets it; no body (zero bytes) or `{}` flips it (atomically); a body of blanks is not JSON (400).")

# Organizations ---------------------------------------------------------------------------------
op("get", "/api/organizations", "listOrganizations", "Organisations (admins: all; others: their own or none)",
   responses({200: ok("Organisations.", {"type": "array", "items": schema("Organization")})}, 401, 503),
   tags=["organizations"])
op("post", "/api/organizations", "createOrganization", "Create an organisation (admin)",
   responses({201: ok("The organisation.", schema("Organization"))}, 400, 401, 403, 409, 413, 422, 503),
   request=body("OrganizationDraft"), tags=["organizations"], description="409 for a duplicate name (any case).")

# Users -----------------------------------------------------------------------------------------
op("get", "/api/users", "listUsers", "Users, newest first (admin)",
   responses({200: ok("Users.", {"type": "array", "items": schema("User")})}, 401, 403, 422, 503),
   parameters=[P("Limit"), P("Offset"),
               {"name": "search", "in": "query", "required": False,
                "description": "Only accounts whose e-mail or name contains this text, ignoring case (ASCII letters on the "
                               "embedded store); empty: no filter. Over 254 Unicode scalars, or a control character → 422.",
                "schema": {"type": "string", "maxLength": 254, "pattern": r"^[^\x00-\x1F\x7F-\x9F]*$"}}], tags=["users"])
op("patch", "/api/users/{id}", "updateUser", "Change a user's role or organisation, or disable it (admin)",
   responses({200: ok("The user.", schema("User"))}, 400, 401, 403, 404, 409, 413, 422, 503),
   parameters=[P("ID")], request=body("UserChange"), tags=["users"],
   description="409 when it would leave no active administrator, or for another role or an organisation to a demo "
   "visitor's account (it would outlive the demo); 422 for the role demo-user, which comes with a demo, and for an "
   "organisation that does not exist. "
   "Disabling revokes every token and ends every session.")
op("post", "/api/users/{id}/password-reset", "resetUserPassword", "Reset a user's password (admin)",
   responses({200: ok("A one-time password, shown once.", schema("TemporaryPassword"))}, 401, 403, 404, 409, 503),
   parameters=[P("ID")], tags=["users"],
   description="Every token of the user is revoked; 409 for an account that signs in only through a provider.")
op("delete", "/api/users/{id}/login-throttle", "clearLoginThrottle", "Forget an account's failed-login counts (admin)",
   responses({200: ok("How many addresses' counts were cleared on the process that answered.", schema("ThrottleCleared"))},
             401, 403, 404, 503),
   parameters=[P("ID")], tags=["users"],
   description="The unlock is kept in the store; every other server process applies it within 5 s. Audited "
               "`clear_login_throttle`.")

op("post", "/api/users/me/netbird-peer", "registerNetbirdPeer", "Register the NetBird peer the caller works from",
   responses({200: ok("Registered.", schema("NetbirdPeerState"))}, 400, 401, 409, 413, 422, 503),
   request=body("NetbirdPeerRegistration"), tags=["users"],
   description="NetBird's API is asked whether the peer exists and is connected (422 if not); 409 when "
               "`NETBIRD_API_URL` is not configured. `network_required` policies accept it. Audited `netbird_peer_registered`.")
op("delete", "/api/users/me/netbird-peer", "removeNetbirdPeer", "Forget the caller's NetBird peer",
   responses({200: ok("Removed.", schema("NetbirdPeerState"))}, 401, 404, 503), tags=["users"],
   description="Audited `netbird_peer_removed` (with `peer_id`); 404 when none is registered.")
op("delete", "/api/users/{id}/mfa", "resetUserMFA", "Remove a user's second factor (admin)",
   responses({200: ok("MFA is off for the user.", schema("MFAState"))}, 401, 403, 404, 409, 503),
   parameters=[P("ID")], tags=["users"],
   description="409 when the user has none. The user signs in with its password alone until it enrols again. "
               "Audited `mfa_reset`.")

# Stats -----------------------------------------------------------------------------------------
op("get", "/api/stats", "stats", "Dashboard figures",
   responses({200: ok("Admins: `scope: system`; others: `organization` or `user`.", schema("Stats"))}, 401, 503),
   tags=["stats"])

# Every call under /api meets the policies: a time window or an address allow-list refuses it
# (403, naming the policy), a rate limit answers 429 with Retry-After and the RateLimit fields.
# Outside the policies: the index, this document, Zitadel's signed calls, and starting a demo
# (registered beside the /api group: Sources/Net/PortalRouter.swift).
POLICY_FREE = {"/api", "/api/", "/api/openapi.json", "/api/integrations/zitadel/token-claims"}
for path, methods in paths.items():
    if not path.startswith("/api") or path in POLICY_FREE:
        continue
    for method, operation in methods.items():
        if (path, method) == ("/api/demo/sessions", "post"):
            continue
        for code, name in (("403", "Forbidden"), ("429", "TooManyRequests")):
            operation["responses"].setdefault(code, ref("responses", name))
        operation["responses"] = dict(sorted(operation["responses"].items()))

document = {
    "openapi": "3.1.0",
    "info": {
        "title": "NeoSC API",
        "version": "0.1.0",
        "summary": "Zero Trust workspace access backend.",
        "description": (
            "Written from docs/api.md and the route code (Sources/Net). JSON in and out, snake_case keys, "
            "ISO-8601 UTC timestamps; optional fields that are not set are left out (user objects carry explicit "
            "nulls). Every error is `{\"detail\": …}`; a 500 is a bug. A query parameter given more than once → 422. Request decoders ignore unknown keys (but "
            "a policy's, a workspace's, an organisation's and a user change's bodies, which refuse them: 422 naming "
            "the key) and treat an optional key sent as null as absent. Every change may answer 503 when the store refuses "
            "writes (see /health). Text lengths are in characters (Swift `Character`s, "
            "after trimming and NFC) with at most 4 UTF-8 bytes per character allowed."
        ),
    },
    "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
    "servers": [{"url": "http://127.0.0.1:8001", "description": "Default local address"}],
    "security": [{"bearerAuth": []}],
    "tags": [{"name": t} for t in
             ["service", "auth", "sso", "workspaces", "sessions", "demos", "audit", "policies", "organizations",
              "users", "stats"]],
    "paths": paths,
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "neosc_ followed by 43 base64url characters",
                "description": "From login, registration, a demo or a provider sign-in. With "
                               "`NEOSC_AUTH_MODE=pomerium` every route but /health, /api and /metrics needs "
                               "`X-Pomerium-Jwt-Assertion` instead.",
            }
        },
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": PARAMETERS,
        "headers": HEADER_COMPONENTS,
    },
}

pretty = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
compact = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
assert '"""#' not in compact, "the document cannot close the Swift raw string"
assert "\\#" not in compact, "the document cannot hold an escape of the Swift raw string"
swift = (
    "// swift-format-ignore-file\n"
    "// Generated by scripts/openapi.py from the same document as docs/openapi.json; do not edit.\n\n"
    "/// NeoSC's HTTP API as OpenAPI 3.1.0, served at `GET /api/openapi.json`. Compiled in, so the\n"
    "/// binary alone serves it (a release image copies nothing else).\n"
    "enum OpenAPIDocument {\n"
    "    static let json = #\"\"\"\n"
    + compact
    + "\n\"\"\"#\n}\n"
)
outputs = {JSON_OUT: pretty, SWIFT_OUT: swift}
if "--check" in sys.argv[1:]:
    stale = [path for path, text in outputs.items()
             if not os.path.exists(path) or open(path, encoding="utf-8").read() != text]
    for path in stale:
        print(f"{os.path.relpath(path, ROOT)} is not what scripts/openapi.py writes: run it", file=sys.stderr)
    sys.exit(1 if stale else 0)
for path, text in outputs.items():
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
print(f"wrote docs/openapi.json and Sources/Net/OpenAPIDocument.swift: "
      f"{len(paths)} paths, {sum(len(v) for v in paths.values())} operations")
