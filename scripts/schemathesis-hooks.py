"""Schemathesis hooks for scripts/schemathesis (loaded through SCHEMATHESIS_HOOKS).

Three jobs, each for a reason the OpenAPI document cannot carry:

1. Keep a role's run from destroying the accounts the script signed in with. Every call that
   is not a GET and names one of the ids in NEOSC_ST_PROTECTED_IDS (the administrator's own
   user id, the demo visitor's demo id) in its path gets that id replaced by an unknown one, so
   it answers 404 instead of, say, resetting the administrator's password (which revokes the
   token the run is using) or ending the demo whose token the demo run uses. Stateful links can
   learn those ids from `GET /api/auth/me` or a list, so filtering generated values is not enough.

   Policies a run writes or switches are switched off (`_defuse_policy`), for the same reason:
   an enforcing policy would refuse the rest of the run.

2. Drop the acceptance-check failures that come from rules JSON Schema cannot state, and only
   those (each is listed in ACCEPTED_REJECTIONS or explained at `_ambiguous_text`):
   - a wrong `current_password` when signed in → 422 (docs/api.md promises exactly that; the
     run cannot know the account's password), and `new_password` equal to `current_password` → 422;
   - `POST /api/demo/sessions` with a `workspace_type` no workspace of the current catalogue
     offers for demos → 422 (the valid values are data, not schema);
   - a workspace's `stream_upstream` that the operator's allowlist (`NEOSC_STREAM_UPSTREAMS`,
     configuration) does not permit → 422;
   - a code that is not the authenticator's when confirming an MFA enrolment, and a wrong password
     or code when removing one → 422 (the run knows neither the key nor the password);
   - text lengths: the server counts Swift Characters (grapheme clusters) of the trimmed, NFC
     text and bounds UTF-8 bytes at 4 per character allowed; JSON Schema counts code points. Where a
     string holds combining marks, format characters, jamo, regional indicators, CR LF, text that
     NFC changes, or padding that a trim removes, the two counts can differ, so a
     positive/negative verdict on such a request says nothing about the server.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata

import schemathesis

_PROTECTED = {value for value in os.environ.get("NEOSC_ST_PROTECTED_IDS", "").split(",") if value}
_REPLACEMENT = "protected-by-scripts-schemathesis"


# Path parameter values that would not reach the operation at all: the HTTP client removes `.`
# and `..` segments (RFC 3986 dot-segment removal) before sending, and `/api/sessions/active` is
# the list route's own path, which takes precedence over `/api/sessions/{id}` (OpenAPI's rule for
# concrete paths, and the router's). The document excludes them from the parameters (`not`), so a
# negative test draws exactly them; they are sent as an unknown id instead.
_UNROUTABLE = {".": "dot-segment", "..": "dot-dot-segment"}
_UNROUTABLE_BY_PATH = {"/api/sessions/{id}": {"active": "active-is-the-list-route"}}


def _defuse_policy(case):
    """Policies written or switched by a run are switched off: an enforcing one (a time window, an
    address allow-list, a rate limit of one request) would refuse the rest of the run, which would
    then test nothing. Only bodies whose `enabled` is true or absent change, so a negative case
    (a wrong type) stays negative."""
    path = case.operation.path
    method = case.method.upper()
    if path == "/api/policies" and method == "POST" or path == "/api/policies/{id}" and method in ("PUT", "PATCH"):
        # A PATCH without a body flips a policy; the defaults it could switch on refuse only launches.
        if isinstance(case.body, dict) and case.body.get("enabled", None) in (True, None):
            case.body["enabled"] = False


@schemathesis.hook
def before_call(context, case, kwargs):
    _defuse_policy(case)
    if not case.path_parameters:
        return
    unroutable = {**_UNROUTABLE, **_UNROUTABLE_BY_PATH.get(case.operation.path, {})}
    for name, value in list(case.path_parameters.items()):
        if not isinstance(value, str):
            continue
        if value in unroutable:
            case.path_parameters[name] = unroutable[value]
        elif value in _PROTECTED and case.method.upper() != "GET":
            case.path_parameters[name] = _REPLACEMENT


# (operation label, status, start of the `detail`) of refusals that depend on state, not shape.
ACCEPTED_REJECTIONS = [
    ("POST /api/auth/password", 422, "current_password is not this account's password"),
    ("POST /api/auth/password", 422, "new_password must differ from the current one"),
    ("POST /api/demo/sessions", 422, "No workspace of type"),
    # A pending enrolment (a run may start one) refuses codes that are not its authenticator's,
    # and its removal needs the account's password, which the run cannot know.
    ("POST /api/auth/mfa/totp/confirm", 422, "code is not the authenticator's current code"),
    ("DELETE /api/auth/mfa/totp", 422, "password is not this account's password"),
    ("DELETE /api/auth/mfa/totp", 422, "code is not valid"),
    # Which settings a policy needs depends on its kind, and some rules relate two fields (a
    # window's start before its end unless overnight); the schema lists every field as optional.
    # Whether a NetBird peer exists and is connected is NetBird's to say (409 with no NetBird here).
    ("POST /api/users/me/netbird-peer", 422, "peer_id is not a connected NetBird peer"),
    ("POST /api/policies", 422, "settings."),
    ("PUT /api/policies/{id}", 422, "settings."),
    # Which stream upstreams a workspace may name is the operator's allowlist
    # (NEOSC_STREAM_UPSTREAMS), configuration rather than schema; with none set every one is 422.
    ("POST /api/workspaces", 422, "stream_upstream: "),
    ("PUT /api/workspaces/{id}", 422, "stream_upstream: "),
]

# Swift's String.trimmingCharacters(in: .whitespacesAndNewlines).
_SWIFT_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


def _ambiguous_character(ch: str) -> bool:
    code = ord(ch)
    category = unicodedata.category(ch)
    return (
        category in ("Mn", "Mc", "Me", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
        or 0x1100 <= code <= 0x11FF  # Hangul jamo
        or 0xA960 <= code <= 0xA97F
        or 0xD7B0 <= code <= 0xD7FF
        or 0x1F1E6 <= code <= 0x1F1FF  # regional indicators
        or 0x1F3FB <= code <= 0x1F3FF  # emoji modifiers
        or 0xE0000 <= code <= 0xE0FFF  # tags, variation selectors supplement
    )


def _ambiguous_text(value: str) -> bool:
    """Whether Swift's character count of the trimmed NFC text may differ from the code point count."""
    if "\r\n" in value or value != value.strip(_SWIFT_WHITESPACE):
        return True
    if unicodedata.normalize("NFC", value) != value:
        return True
    return any(_ambiguous_character(ch) for ch in value)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _declared_properties() -> frozenset[str]:
    """Every property name the document declares: the fields a verdict can be about (undeclared
    keys, which the decoders ignore, are left out of the ambiguity scan)."""
    spec = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "openapi.json")
    try:
        with open(spec, encoding="utf-8") as file:
            schemas = json.load(file)["components"]["schemas"]
    except (OSError, ValueError, KeyError):
        return frozenset()
    return frozenset(name for schema in schemas.values() for name in schema.get("properties", {}))


_DECLARED = _declared_properties()


def _fields(body, detail: str):
    """The strings a verdict is about: the field the server's refusal names (`name must …`,
    `Field 'name' …`), else every declared field."""
    if not isinstance(body, dict):
        return list(_strings(body))
    named = re.match(r"^(?:Field ')?([a-z_]+)'? ", detail)
    if named and named.group(1) in body:
        return list(_strings(body[named.group(1)]))
    return [text for key, value in body.items() if key in _DECLARED or not _DECLARED for text in _strings(value)]


def _detail(response) -> str:
    try:
        body = response.json()
    except Exception:
        return ""
    return body.get("detail", "") if isinstance(body, dict) else ""


def _dropped(reason: str, kind: str, label: str, response, case) -> bool:
    """Records a dropped failure in NEOSC_ST_DROPPED_LOG (when set) and answers False (drop it)."""
    path = os.environ.get("NEOSC_ST_DROPPED_LOG")
    if path:
        body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else None
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{label}\t{response.status_code}\t{kind}\t{reason}\t{_detail(response)!r}\t{body!r:.4000}\n")
    return False


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    kind = type(failure).__name__
    if kind not in ("RejectedPositiveData", "AcceptedNegativeData"):
        return True
    label = f"{case.method.upper()} {case.operation.path}"
    detail = _detail(response)
    if kind == "RejectedPositiveData":
        for operation, status, prefix in ACCEPTED_REJECTIONS:
            if label == operation and response.status_code == status and detail.startswith(prefix):
                return _dropped("state-dependent refusal", kind, label, response, case)
    if any(_ambiguous_text(s) for s in _fields(case.body, detail)) or any(
        _ambiguous_text(s) for s in _strings(case.query or {})
    ):
        return _dropped("character count ambiguous", kind, label, response, case)
    return True
