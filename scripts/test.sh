#!/usr/bin/env bash
# Runs Herald's whole test suite: vet, the dependency rules, unit, fuzz seed
# corpora, conformance and end-to-end tests (real herald processes driven by
# centrifuge-go and centrifuge-js), all with the race detector.
# Installs what the tests need (Go modules, npm packages for test/e2e/js).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "Go is required (https://go.dev/dl/)" >&2; exit 1; }
command -v node >/dev/null || { echo "Node.js 20 is required for the centrifuge-js tests" >&2; exit 1; }

go mod download
for dir in test/e2e/js test/browser; do
  if [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
# Browser tests use Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q chromium >/dev/null
  else
    sudo apt-get install -y -q chromium >/dev/null
  fi
fi
mkdir -p test-output

go vet ./...

# Lint (.golangci.yml). The linter is built once into a cache folder.
tools="${XDG_CACHE_HOME:-$HOME/.cache}/herald-tools"
if [ ! -x "$tools/golangci-lint" ]; then
  GOBIN="$tools" go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
fi
"$tools/golangci-lint" run ./...
# End-to-end tests build the herald binary with -race too, so server races fail CI.
export HERALD_E2E_RACE=1
go test -race -count=1 -timeout 15m "$@" ./...
