#!/bin/sh
# Creates the stack's secrets in infra/secrets/ (directory 700, files 600, no trailing newline),
# each only if it does not exist yet, so running it again changes nothing. docker-compose.yml
# mounts them under /run/secrets/; the services read them through *_FILE settings.
#
#   ZITADEL_CLIENT_SECRET=... ZITADEL_ACTIONS_SIGNING_KEY=... infra/make-secrets.sh
#
# The two Zitadel values come from Zitadel (docs/operations.md, section 3); every other secret is
# generated here. MONGO_APP_USER (default neosc) must match infra/.env.
set -eu
umask 077
here=$(cd "$(dirname "$0")" && pwd)
dir="$here/secrets"
mkdir -p "$dir"
chmod 700 "$dir"

# write NAME VALUE: the file, unless it exists.
write() {
    if [ -e "$dir/$1" ]; then
        echo "kept      secrets/$1"
    else
        printf '%s' "$2" > "$dir/$1.partial" && mv "$dir/$1.partial" "$dir/$1"
        echo "created   secrets/$1"
    fi
}
random() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
password() { head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | cut -c1-40; }

write pomerium_cookie_secret "$(random 32)"
write pomerium_shared_secret "$(random 32)"
# ES256 (P-256): signs X-Pomerium-Jwt-Assertion; NeoSC verifies with its public half.
write pomerium_signing_key "$(openssl ecparam -genkey -name prime256v1 -noout 2>/dev/null)"
write mongo_root_password "$(password)"
write mongo_app_password "$(password)"
# Letters and digits only, so it goes in the URL as it is.
write mongo_url "mongodb://${MONGO_APP_USER:-neosc}:$(cat "$dir/mongo_app_password")@mongo:27017/neosc?authSource=neosc"
write neosc_admin_password "$(password)"
if [ -n "${ZITADEL_CLIENT_SECRET:-}" ]; then write zitadel_client_secret "$ZITADEL_CLIENT_SECRET"; fi
# Empty until the Actions target exists in Zitadel: NeoSC then serves no Actions route.
write zitadel_actions_signing_key "${ZITADEL_ACTIONS_SIGNING_KEY:-}"

if [ ! -e "$dir/zitadel_client_secret" ]; then
    echo "missing   secrets/zitadel_client_secret: run again with ZITADEL_CLIENT_SECRET=<the Pomerium application's secret>" >&2
    exit 1
fi
