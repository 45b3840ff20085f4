#!/bin/sh
# Creates the stack's secrets in infra/secrets/, each only if it does not exist yet, so running it
# again changes nothing. docker-compose.yml mounts them under /run/secrets/; the services read them
# through *_FILE settings.
#
#   ZITADEL_CLIENT_SECRET=... ZITADEL_ACTIONS_SIGNING_KEY=... infra/make-secrets.sh
#
# The two Zitadel values come from Zitadel (docs/operations.md, section 2); every other secret is
# generated here. MONGO_APP_USER (default neosc) must match infra/.env.
#
# Permissions: the directory is 700, so on the host only its owner (and root, as dockerd) reaches
# the files. The files themselves are 444: Compose mounts a file secret as it is on the host
# (outside swarm it ignores uid, gid and mode), and mongo and NeoSC read theirs as unprivileged
# users inside their containers. No file ends with a newline (Pomerium refuses a shared secret
# with one, and keeps one in the client secret).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir="$here/secrets"
(umask 077 && mkdir -p "$dir")
chmod 700 "$dir"

fail() { echo "make-secrets.sh: $*" >&2; exit 1; }

# write NAME VALUE: creates the file; an existing one is kept, or filled when it is empty and a
# value is given; a different non-empty value for an existing non-empty file is refused.
write() {
    if [ -s "$dir/$1" ]; then
        if [ -n "$2" ] && [ "$(cat "$dir/$1")" != "$2" ] && [ "${3:-}" != generated ]; then
            fail "secrets/$1 exists with another value: delete it first to replace it"
        fi
        echo "kept      secrets/$1"
        return
    fi
    if [ -e "$dir/$1" ] && [ -z "$2" ]; then
        echo "kept      secrets/$1 (empty)"
        return
    fi
    (umask 077 && printf '%s' "$2" > "$dir/$1.partial")
    chmod 444 "$dir/$1.partial"
    mv -f "$dir/$1.partial" "$dir/$1"
    echo "written   secrets/$1"
}
random() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
password() { head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | cut -c1-40; }

write pomerium_cookie_secret "$(random 32)" generated
write pomerium_shared_secret "$(random 32)" generated
# ES256 (P-256): signs X-Pomerium-Jwt-Assertion; NeoSC verifies with its public half. Without it
# Pomerium publishes no keys and NeoSC can verify nothing, so a failure stops here.
if [ ! -s "$dir/pomerium_signing_key" ]; then
    command -v openssl > /dev/null || fail "openssl is needed to make Pomerium's signing key"
    key=$(openssl ecparam -genkey -name prime256v1 -noout) || fail "openssl could not make Pomerium's signing key"
    [ -n "$key" ] || fail "openssl made an empty signing key"
    write pomerium_signing_key "$key"
else
    write pomerium_signing_key "" generated
fi
write mongo_root_password "$(password)" generated
write mongo_app_password "$(password)" generated
# The replica set's internal key file (756 random bytes, base64: 1,008 characters, within
# mongod's 1,024): the compose stack runs mongo as a single-node replica set (docs/audit.md).
write mongo_replica_key "$(random 756)" generated
# Derived from the app password (letters and digits only, so it goes in the URL as it is):
# rewritten whenever it differs, so a rotated password never leaves a stale URL.
url="mongodb://${MONGO_APP_USER:-neosc}:$(cat "$dir/mongo_app_password")@mongo:27017/neosc?authSource=neosc&replicaSet=rs0"
if [ ! -s "$dir/mongo_url" ] || [ "$(cat "$dir/mongo_url")" != "$url" ]; then
    rm -f "$dir/mongo_url"
fi
write mongo_url "$url"
write neosc_admin_password "$(password)" generated
# Ed25519 private key (32 random bytes, base64) that signs the audit chain's checkpoints: one key
# for every replica, kept out of the data volume (docs/audit.md).
write neosc_audit_signing_key "$(random 32)" generated
write zitadel_client_secret "${ZITADEL_CLIENT_SECRET:-}"
# Empty until the Actions target exists in Zitadel (NeoSC then serves no Actions route, and nobody
# gets a role behind Pomerium): run again with ZITADEL_ACTIONS_SIGNING_KEY once it does.
write zitadel_actions_signing_key "${ZITADEL_ACTIONS_SIGNING_KEY:-}"

[ -s "$dir/zitadel_client_secret" ] || fail "secrets/zitadel_client_secret is empty: run again with ZITADEL_CLIENT_SECRET=<the Pomerium application's secret>"
[ -s "$dir/zitadel_actions_signing_key" ] || echo "note      secrets/zitadel_actions_signing_key is empty: run again with ZITADEL_ACTIONS_SIGNING_KEY=<the target's key> once zitadel/setup-actions.sh has printed it" >&2
