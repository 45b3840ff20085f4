#!/bin/sh
# Makes NeoSC the target of a Zitadel Actions v2 function (docs/identity.md, "Zitadel Actions"):
# Zitadel then asks NeoSC for the flat `groups` claim and the demo claims whenever it issues an ID
# token, a userinfo answer or a JWT access token. Prints the target's signing key: put it in
# infra/secrets/zitadel_actions_signing_key and restart the backend.
#
#   ZITADEL=https://auth.example.com PAT=<a personal access token of an IAM owner> \
#   NEOSC_DOMAIN=neosc.example.com infra/zitadel/setup-actions.sh
#
# Needs curl and python3 (to read Zitadel's JSON answers).
set -eu
: "${ZITADEL:?set ZITADEL to your Zitadel instance URL}"
: "${PAT:?set PAT to a personal access token allowed to manage actions}"
: "${NEOSC_DOMAIN:?set NEOSC_DOMAIN}"

# The public Pomerium route to NeoSC's Actions target (infra/pomerium/config.yaml).
endpoint="https://api.$NEOSC_DOMAIN/api/integrations/zitadel/token-claims"

call() { # METHOD PATH BODY
    curl --fail-with-body -sS -X "$1" "$ZITADEL$2" -H "Authorization: Bearer $PAT" \
        -H 'Content-Type: application/json' -d "$3"
}

# interruptOnError false: if NeoSC is down, tokens are still issued (without NeoSC's claims).
target=$(call POST /v2/actions/targets \
    "{\"name\": \"neosc-token-claims\", \"endpoint\": \"$endpoint\", \"restCall\": {\"interruptOnError\": false}, \"timeout\": \"5s\"}")
id=$(printf '%s' "$target" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
key=$(printf '%s' "$target" | python3 -c 'import json,sys; print(json.load(sys.stdin)["signingKey"])')

for function in preuserinfo preaccesstoken; do
    call PUT /v2/actions/executions \
        "{\"condition\": {\"function\": {\"name\": \"$function\"}}, \"targets\": [\"$id\"]}" > /dev/null
    echo "execution: $function -> target $id" >&2
done
printf '%s\n' "$key"
