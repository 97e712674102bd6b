#!/bin/sh
# predixy as a bench peer: writes a predixy config for the bench's cluster and execs predixy, so the
# PID the harness measures is predixy's own. Used as
#   node bench/dist/run.js --peer 'predixy=bench/peers/predixy.sh {port} {seeds} {dir}'
# {port}: where predixy listens (127.0.0.1); {seeds}: host:port,... of the cluster's masters;
# {dir}: a temp dir the harness removes afterwards (the config goes there).
# The binary: $PREDIXY, else /work/peers/predixy-src/src/predixy, else predixy on PATH.
# Threads: $PREDIXY_THREADS (default 1: one core, like one Node process).
set -eu
if [ $# -ne 3 ]; then
  echo "usage: $0 PORT SEED[,SEED...] DIR" >&2
  exit 2
fi
port=$1 seeds=$2 dir=$3
bin=${PREDIXY:-/work/peers/predixy-src/src/predixy}
[ -x "$bin" ] || bin=$(command -v predixy) || { echo "predixy not found: set PREDIXY=/path/to/predixy" >&2; exit 127; }
conf=$dir/predixy.conf
{
  echo "Name slotrelay-bench-peer"
  echo "Bind 127.0.0.1:$port"
  echo "WorkerThreads ${PREDIXY_THREADS:-1}"
  echo "ClientTimeout 0"
  # Quiet: only warnings and errors (predixy logs to stdout without a Log file).
  echo "LogVerbSample 0"
  echo "LogDebugSample 0"
  echo "LogInfoSample 0"
  echo "LogNoticeSample 0"
  echo "LogWarnSample 1"
  echo "LogErrorSample 1"
  echo "ClusterServerPool {"
  # Reads from masters only (replicas not read), like the other contenders.
  echo "    MasterReadPriority 100"
  echo "    StaticSlaveReadPriority 0"
  echo "    DynamicSlaveReadPriority 0"
  echo "    RefreshInterval 1"
  echo "    Servers {"
  echo "$seeds" | tr ',' '\n' | while read -r s; do [ -n "$s" ] && echo "        + $s"; done
  echo "    }"
  echo "}"
} >"$conf"
exec "$bin" "$conf"
