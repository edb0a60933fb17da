# Sourced by scripts/test.sh (which defines `say` and `apt_install`): the TypeScript SDK and
# the web app, both made from sources in this repository and committed, so `cargo` alone
# builds a working app. Each is regenerated or rebuilt here and must equal what is
# committed; then the app's acceptance runs in Debian's chromium against `votemesh up`.

if ! command -v npm >/dev/null 2>&1; then
  say "installing Node.js and npm"
  apt_install nodejs npm
fi
if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  apt_install chromium
fi

# Fails when the committed copy of $1 differs from what was just made, new files included.
unchanged() {
  if ! git diff --quiet -- "$1" || [ -n "$(git ls-files --others --exclude-standard -- "$1")" ]; then
    git status --short -- "$1" >&2
    echo "$1 differs from what its sources make: $2" >&2
    exit 1
  fi
}

say "the TypeScript SDK is what proto/ generates"
(cd sdk/ts && npm ci --no-fund --no-audit --silent && npx buf generate && npx tsc --noEmit -p .)
unchanged sdk/ts/src "run 'npm run generate' in sdk/ts and commit it"

say "the web app's committed bundle is what web/ builds"
(cd web && npm ci --no-fund --no-audit --silent && npm run --silent build)
unchanged crates/edge/webapp "run 'npm run build' in web/ and commit it"

say "the web app in chromium against votemesh up"
# What ships: the bundle embedded in the binary, which the check above proved current.
(cd web && VOTEMESH_BIN="$CARGO_TARGET_DIR/debug/votemesh" VOTEMESH_WEB=embedded npm test)
