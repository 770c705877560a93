#!/usr/bin/env bash
# make flake: run the integration packages COUNT times with the race
# detector while a busy loop loads one core, as a shared CI machine does,
# and print every failing test with a count per package. Exit 1 on any
# failure. Timing assumptions that hold on an idle laptop fail here.
#
#   FLAKE_PKGS   packages to run (default: every package that starts a server)
#   FLAKE_COUNT  runs per package (default 10)
#   FLAKE_RUN    optional -run filter
#   FLAKE_JOBS   packages run at once (default 1)
#   FLAKE_OUT    directory that keeps each package's full output
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
# FLAKE_OUT keeps every package's full output there; otherwise it is removed.
if [ -n "${FLAKE_OUT:-}" ]; then
	dir=$FLAKE_OUT
	mkdir -p "$dir"
	trap 'kill "$hog" 2>/dev/null' EXIT
else
	dir=$(mktemp -d)
	trap 'kill "$hog" 2>/dev/null; rm -rf "$dir"' EXIT
fi

# One package: run it, then summarise its failures into $dir/N.sum.
one() {
	local i=$1 pkg=$2 out="$dir/$1.out"
	local start=$SECONDS
	$GO test -race -count="$count" "${run[@]}" -timeout 90m "$pkg" >"$out" 2>&1
	local n fails
	fails=$(grep -E '^\s*--- FAIL' "$out" | sed -E 's/ \([0-9.]+s\)//' | sort | uniq -c)
	n=$(grep -cE '^\s*--- FAIL' "$out")
	if grep -qE '^(panic:|FAIL\s+\S+\s+\[build failed\])' "$out"; then
		n=$((n + 1))
		fails="$fails"$'\n'"      1 panic or build failure (see below)"
	fi
	{
		echo "flake: $pkg: $n failures in $count runs ($((SECONDS - start)) s)"
		if [ "$n" -gt 0 ]; then
			echo "$fails"
			grep -E -A15 '^\s*--- FAIL|^panic:' "$out" | head -80
		fi
	} >"$dir/$i.sum"
	echo "$n" >"$dir/$i.n"
	cat "$dir/$i.sum" >&2
}

# FLAKE_JOBS packages at a time (default 1). More than one loads the machine
# harder than CI does, which only makes a timing assumption fail sooner.
jobs=${FLAKE_JOBS:-1}
i=0
for pkg in $pkgs; do
	while [ "$(jobs -rp | wc -l)" -gt "$jobs" ]; do wait -n; done
	one "$i" "$pkg" &
	i=$((i + 1))
done
while [ "$(jobs -rp | wc -l)" -gt 1 ]; do wait -n; done

total=0
for ((k = 0; k < i; k++)); do
	cat "$dir/$k.sum"
	total=$((total + $(cat "$dir/$k.n")))
done
echo "flake: $total failures in total ($count runs per package, $i packages)"
[ "$total" -eq 0 ]
