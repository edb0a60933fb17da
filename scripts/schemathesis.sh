#!/usr/bin/env bash
# Fuzzes the REST surface with schemathesis against /api/openapi.json of a running
# `votemesh up`: every response must not be a 5xx and must match the document's schema.
#
#   scripts/schemathesis.sh            # exits non-zero on any failure
#
# Environment:
#   VOTEMESH_BIN                   the binary (default: $CARGO_TARGET_DIR or
#                                  ~/.cache/votemesh-target, then debug/votemesh)
#   SCHEMATHESIS_MAX_EXAMPLES      test cases per operation and phase (default 100)
#   SCHEMATHESIS_ANONYMOUS_MAX_EXAMPLES  the same for the run without credentials (default 25)
#   SCHEMATHESIS_SEED              hypothesis seed (default: random; printed in the summary)
#   SCHEMATHESIS_WORKERS           concurrent workers (default 2)
#   SCHEMATHESIS_REPORT_DIR        where the JUnit and HAR reports go (default: a temp dir,
#                                  kept and printed when the run fails)
#   SCHEMATHESIS_VENV              where schemathesis is installed (default
#                                  ~/.cache/votemesh-schemathesis/venv)
#
# What it does: installs schemathesis (pinned) into its own venv when missing; starts
# `votemesh up` on a free port in a temp dir; makes an admin; seeds real objects (elections
# in DRAFT, OPEN and CLOSED with candidates and a roll, a verified voter who voted) so that
# fuzzed path parameters can name them; runs schemathesis as that admin (the token is renewed
# by a hook, as access tokens live 300 s), then once without credentials (schemathesis's
# auto-signup off, so truly anonymous); stops the server. About 3-4 minutes on 2 cores.
#
# Under the edge's default rate limits (30 credential calls/min per IP) the credential
# operations (register, login, refresh, password, verify, verify:resend) mostly get 429,
# which is not a failure; the run stays under the 50 requests/s per user limit itself.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
target_dir=${CARGO_TARGET_DIR:-$HOME/.cache/votemesh-target}
bin=${VOTEMESH_BIN:-$target_dir/debug/votemesh}
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
workers=${SCHEMATHESIS_WORKERS:-2}
venv=${SCHEMATHESIS_VENV:-$HOME/.cache/votemesh-schemathesis/venv}
admin_email=admin@example.org
admin_password='a long admin password for the fuzzer'

[[ -x $bin ]] || { echo "schemathesis.sh: no votemesh binary at $bin (set VOTEMESH_BIN or build it)" >&2; exit 2; }

# --- schemathesis, pinned, in its own venv --------------------------------------------------
if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != *"$SCHEMATHESIS_VERSION"* ]]; then
    echo "== installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv" 2>/dev/null || {
        apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$venv"
    }
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
st="$venv/bin/schemathesis"

# --- the system ------------------------------------------------------------------------------
work=$(mktemp -d -t votemesh-schemathesis.XXXXXX)
reports=${SCHEMATHESIS_REPORT_DIR:-$work/reports}
mkdir -p "$reports"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server_pid=
status=0
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -eq 0 && -z ${SCHEMATHESIS_REPORT_DIR:-} ]]; then
        rm -rf "$work"
    else
        echo "== kept $work (server log: $work/server.log, reports: $reports)"
    fi
}
trap cleanup EXIT

echo "== starting $bin up on $base"
"$bin" up --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
    curl -sf -o "$work/openapi.json" "$base/api/openapi.json" && break
    kill -0 "$server_pid" 2>/dev/null || { status=1; echo "votemesh up exited:" >&2; tail -30 "$work/server.log" >&2; exit 1; }
    sleep 0.2
done
[[ -s $work/openapi.json ]] || { status=1; echo "votemesh up did not serve $base/api/openapi.json" >&2; exit 1; }

"$bin" admin bootstrap --data-dir "$work/data" --email "$admin_email" --password "$admin_password" >"$work/bootstrap.log" 2>&1 \
    || { status=1; cat "$work/bootstrap.log" >&2; exit 1; }
admin_id=$(curl -sf -X POST "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["user_id"])')

# --- helpers: seeding, and the hooks schemathesis loads ----------------------------------------
cat >"$work/seed.py" <<'PY'
# Real objects for fuzzed path parameters; prints them as JSON. Args: BASE DATA_DIR EMAIL PASSWORD
import email, glob, json, re, sys, time, urllib.error, urllib.request

BASE, DATA_DIR, ADMIN_EMAIL, ADMIN_PASSWORD = sys.argv[1:5]


def call(method, path, body=None, token=None, content_type="application/json", raw=None):
    for _ in range(30):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"content-type": content_type}
        if token:
            headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                time.sleep(float(error.headers.get("retry-after") or 2) + 0.2)
                continue
            raise SystemExit(f"seeding: {method} {path}: {error.code} {error.read().decode()}")
    raise SystemExit(f"seeding: {method} {path}: still rate limited")


def login(address, password):
    return call("POST", "/v1/auth/login", {"email": address, "password": password})


def election(token, title, method, **extra):
    body = {"title": title, "method": method, "eligibility": "ELIGIBILITY_ROLL",
            "results_visibility": "RESULTS_VISIBILITY_LIVE",
            "opens_at": "2030-01-01T09:00:00Z", "closes_at": "2030-01-08T17:00:00Z", **extra}
    return call("POST", "/v1/elections", {"election": body}, token)["election"]["election_id"]


def candidates(token, election_id, names):
    return [call("POST", f"/v1/elections/{election_id}/candidates", {"candidate": {"name": n}},
                 token)["candidate"]["candidate_id"] for n in names]


def verification_code(address):
    for _ in range(100):
        for path in sorted(glob.glob(f"{DATA_DIR}/outbox-mail/*.eml")):
            message = email.message_from_bytes(open(path, "rb").read())
            if address not in (message.get("To") or ""):
                continue
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    found = re.search(r"\b(\d{6})\b", part.get_payload(decode=True).decode(errors="replace"))
                    if found:
                        return found.group(1)
        time.sleep(0.2)
    raise SystemExit(f"seeding: no verification code mailed to {address}")


admin = login(ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"]
voter_email, voter_password = "voter@example.org", "a long voter password"
voter_id = call("POST", "/v1/auth/register", {"email": voter_email, "password": voter_password,
                                               "display_name": "Voter"})["user"]["user_id"]
voter = login(voter_email, voter_password)["access_token"]
call("POST", "/v1/me/verify", {"kind": "CONTACT_KIND_EMAIL", "code": verification_code(voter_email)}, voter)

roll = f"email\n{voter_email}\nroll-only@example.org\n".encode()
draft = election(admin, "Draft", "BALLOT_METHOD_PLURALITY", remind_before_close="3600s")
draft_candidates = candidates(admin, draft, ["Ada", "Grace", "Edsger"])
call("POST", f"/v1/elections/{draft}/roll:import", token=admin, content_type="text/csv", raw=roll)

opened = election(admin, "Open", "BALLOT_METHOD_RANKED")
open_candidates = candidates(admin, opened, ["Ada", "Grace"])
call("POST", f"/v1/elections/{opened}/roll:import", token=admin, content_type="text/csv", raw=roll)
call("POST", f"/v1/elections/{opened}/transition", {"target": "ELECTION_STATUS_OPEN"}, admin)
receipt = call("POST", f"/v1/elections/{opened}/ballots",
               {"selection": {"candidate_ids": open_candidates}}, voter)["receipt_code"]

closed = election(admin, "Closed", "BALLOT_METHOD_APPROVAL", max_choices=1)
closed_candidates = candidates(admin, closed, ["Yes", "No"])
call("POST", f"/v1/elections/{closed}/roll:import", token=admin, content_type="text/csv", raw=roll)
call("POST", f"/v1/elections/{closed}/transition", {"target": "ELECTION_STATUS_OPEN"}, admin)
call("POST", f"/v1/elections/{closed}/ballots", {"selection": {"candidate_ids": closed_candidates[:1]}}, voter)
call("POST", f"/v1/elections/{closed}/transition", {"target": "ELECTION_STATUS_CLOSED"}, admin)

print(json.dumps({
    "election_id": [draft, opened, closed],
    "candidate_id": draft_candidates + open_candidates + closed_candidates,
    "user_id": [voter_id],
    "email": [voter_email, "roll-only@example.org"],
    "receipt_code": [receipt],
}))
PY

cat >"$work/hooks.py" <<'PY'
# Schemathesis hooks: the admin's bearer token, kept fresh, and seeded ids for path parameters.
import json, os, time, urllib.error, urllib.request, zlib

import schemathesis

BASE = os.environ["VM_BASE_URL"]
EMAIL = os.environ["VM_ADMIN_EMAIL"]
PASSWORD = os.environ["VM_ADMIN_PASSWORD"]
ADMIN_ID = os.environ["VM_ADMIN_ID"]
SEEDED = json.loads(os.environ["VM_SEEDED"])
_state = {"refresh_token": ""}


def _post(path, payload):
    for _ in range(20):
        request = urllib.request.Request(BASE + path, data=json.dumps(payload).encode(),
                                         headers={"content-type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                time.sleep(float(error.headers.get("retry-after") or 2) + 0.5)
                continue
            return None
    return None


# Access tokens live 300 s: renew every 240 s and on a 401, first with the refresh token
# (survives an email change), else by signing in again (survives a fuzzed logout).
@schemathesis.auth(refresh_interval=240)
class VotemeshAdmin:
    def get(self, case, context):
        answer = None
        if _state["refresh_token"]:
            answer = _post("/v1/auth/refresh", {"refresh_token": _state["refresh_token"]})
        if not answer or not answer.get("access_token"):
            answer = _post("/v1/auth/login", {"email": EMAIL, "password": PASSWORD})
        if not answer or not answer.get("access_token"):
            raise RuntimeError("the admin can neither refresh nor sign in any more")
        _state["refresh_token"] = answer.get("refresh_token", "")
        return answer["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def before_call(context, case, **kwargs):
    # Two in three generated path values (by a hash, so a case replays the same) become a
    # seeded id, so the fuzzer gets past "not found" into the services' logic. The admin's
    # own id is never used, so the fuzzer cannot disable or demote the account it runs as.
    for name, value in list((case.path_parameters or {}).items()):
        pool = SEEDED.get(name)
        if not pool:
            continue
        digest = zlib.crc32(repr(value).encode())
        if digest % 3 or (name == "user_id" and value == ADMIN_ID):
            case.path_parameters[name] = pool[digest % len(pool)]
    # Keep the admin able to sign in: a valid new email is dropped from PATCH /v1/me.
    if case.method.upper() == "PATCH" and case.path == "/v1/me" and isinstance(case.body, dict):
        new_email = case.body.get("email")
        if isinstance(new_email, str) and "@" in new_email:
            case.body.pop("email")
PY

echo "== seeding"
seeded=$(python3 "$work/seed.py" "$base" "$work/data" "$admin_email" "$admin_password") || { status=1; exit 1; }

common=(
    --checks not_a_server_error,response_schema_conformance,status_code_conformance
    --phases examples,coverage,fuzzing
    --output-truncate false
)
[[ -n ${SCHEMATHESIS_SEED:-} ]] && common+=(--seed "$SCHEMATHESIS_SEED")

echo "== schemathesis $SCHEMATHESIS_VERSION as an admin"
VM_BASE_URL=$base VM_ADMIN_EMAIL=$admin_email VM_ADMIN_PASSWORD=$admin_password \
VM_ADMIN_ID=$admin_id VM_SEEDED=$seeded SCHEMATHESIS_HOOKS="$work/hooks.py" \
    "$st" run "$base/api/openapi.json" "${common[@]}" --max-examples "$max_examples" \
    --workers "$workers" --rate-limit 45/s \
    --report junit --report-junit-path "$reports/admin.junit.xml" || status=1

# Anonymous: no token, and schemathesis must not sign up a voter by itself (auto-signup). Only
# the public operations get past the gate, so fewer cases suffice.
printf '[auth]\nauto-signup = false\n' >"$work/anonymous.toml"
echo "== schemathesis $SCHEMATHESIS_VERSION without credentials"
"$st" --config-file "$work/anonymous.toml" run "$base/api/openapi.json" "${common[@]}" \
    --max-examples "${SCHEMATHESIS_ANONYMOUS_MAX_EXAMPLES:-25}" \
    --workers "$workers" --rate-limit 45/s \
    --report junit --report-junit-path "$reports/anonymous.junit.xml" || status=1

if grep -q "ERROR\|panicked" "$work/server.log"; then
    echo "== errors in the server log:"
    grep -n "ERROR\|panicked" "$work/server.log" | cut -c1-400 | head -20
fi
exit "$status"
