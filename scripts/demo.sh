#!/usr/bin/env bash
# make demo: start a real local ZooKeeper on a free port, register two
# providers, query them as a table and as JSON, stop one, watch it vanish,
# clean up. Installs Debian's zookeeper package first if it is missing and
# apt-get is usable.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./bin/svcdisco}
JAR=/usr/share/java/zookeeper.jar

if [ -t 1 ]; then
  say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
  say() { printf '\n$ %s\n' "$*"; }
fi

if [ ! -f "$JAR" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "demo: installing Debian's zookeeper package" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
  else
    echo "demo: ZooKeeper is not installed; run: sudo apt-get install zookeeper" >&2
    exit 1
  fi
fi

work=$(mktemp -d)
pids=()
zk=""
cleanup() {
  # Providers first (they deregister), ZooKeeper last.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -n "$zk" ] && kill "$zk" 2>/dev/null && wait "$zk" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=21810
while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
mkdir -p "$work/data"
cat >"$work/zoo.cfg" <<CFG
tickTime=200
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
CFG
echo "demo: starting ZooKeeper on 127.0.0.1:$port" >&2
java -Xmx256m -XX:+UseSerialGC -cp "/etc/zookeeper/conf:$JAR" \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zoo.cfg" >"$work/zk.log" 2>&1 &
zk=$!

export SVCDISCO_REGISTRY=zk://127.0.0.1:$port
for _ in $(seq 1 100); do
  "$BIN" services --timeout 1s >/dev/null 2>&1 && break
  sleep 0.2
done

say "svcdisco register web --port 8080 --host web1.example.com --attr zone=us-east-1a --attr version=1.4.2 &"
"$BIN" register web --port 8080 --host web1.example.com --attr zone=us-east-1a --attr version=1.4.2 &
web1=$!; pids+=("$web1")
"$BIN" query web --at-least 1 --wait 10s -o lines >/dev/null
say "svcdisco register web --port 8080 --host web2.example.com --attr zone=us-east-1b --attr version=1.4.2 &"
"$BIN" register web --port 8080 --host web2.example.com --attr zone=us-east-1b --attr version=1.4.2 &
pids+=($!)

say "svcdisco query web --at-least 2 --wait 10s"
"$BIN" query web --at-least 2 --wait 10s
say "svcdisco query web -o json"
"$BIN" query web -o json
say "svcdisco query web -o lines"
"$BIN" query web -o lines
say "svcdisco services"
"$BIN" services

say "kill -TERM <web1>   # deregisters at once, then exits 0"
kill -TERM "$web1"
wait "$web1"
say "svcdisco query web"
"$BIN" query web
echo
echo "demo: done; stopping ZooKeeper and the remaining provider" >&2
