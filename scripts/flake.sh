#!/usr/bin/env bash
# make flake: run the integration packages COUNT times with the race
# detector while a busy loop loads one core, as a shared CI machine does,
# and print every failing test with a count per package. Exit 1 on any
# failure. Timing assumptions that hold on an idle laptop fail here.
#
#   FLAKE_PKGS   packages to run (default: every package that starts a server)
#   FLAKE_COUNT  runs per package (default 10)
#   FLAKE_RUN    optional -run filter
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
count=${FLAKE_COUNT:-10}
pkgs=${FLAKE_PKGS:-$($GO list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... |
	xargs -r $GO list -f '{{.ImportPath}} {{join .Deps " "}} {{join .TestImports " "}} {{join .XTestImports " "}}' |
	awk '/internal\/test(zk|consul|exhibitor|etcd)/ {print $1}')}
run=()
[ -n "${FLAKE_RUN:-}" ] && run=(-run "$FLAKE_RUN")
export SVCDISCO_REQUIRE_INTEGRATION=${SVCDISCO_REQUIRE_INTEGRATION:-1}

# The hog: one busy process, killed by its PID when we exit.
( while :; do :; done ) &
hog=$!
trap 'kill "$hog" 2>/dev/null' EXIT

out=$(mktemp)
total=0
for pkg in $pkgs; do
	$GO test -race -count="$count" "${run[@]}" -timeout 60m "$pkg" >"$out" 2>&1
	fails=$(grep -E '^\s*--- FAIL' "$out" | sed -E 's/ \([0-9.]+s\)//' | sort | uniq -c)
	n=$(grep -cE '^\s*--- FAIL' "$out")
	if grep -qE '^(panic:|FAIL\s+\S+\s+\[build failed\])' "$out"; then
		n=$((n + 1))
		fails="$fails"$'\n'"      1 panic or build failure (see below)"
	fi
	echo "flake: $pkg: $n failures in $count runs"
	if [ "$n" -gt 0 ]; then
		echo "$fails"
		grep -E -A15 '^\s*--- FAIL|^panic:' "$out" | head -80
	fi
	total=$((total + n))
done
rm -f "$out"
echo "flake: $total failures in total ($count runs per package)"
[ "$total" -eq 0 ]
