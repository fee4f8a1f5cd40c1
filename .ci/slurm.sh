#!/usr/bin/env bash
# A real single-node Slurm for the Slurm tests (test/slurm/), on a fresh Debian bookworm machine.
#
#   bash .ci/slurm.sh          install, start, run the Slurm tests, stop the daemons it started
#   bash .ci/slurm.sh start    install and start, leave them running (development); prints the pids
#   bash .ci/slurm.sh stop     stop the daemons a previous `start` started (by their pids)
#
# It installs slurm-wlm and munge (Debian's Slurm 22.05), writes /etc/slurm/slurm.conf for one node on
# this host with all its CPUs, starts munged, slurmctld and slurmd, and waits until `sinfo` shows the
# node idle. A Slurm that already answers `sinfo` is reused and left alone. Daemons are stopped only by
# the pids this script recorded, never by name. Facts behind the choices: the shared docs/slurm-notes.md
# (no slurmdbd, so no sacct: jobs are tracked with squeue, scontrol and the run folders).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
STATE=${DSCPP_SLURM_STATE:-/tmp/dscpp-slurm-ci}
PIDS="$STATE/started.pids"
MARK='# written by dscpp-lab .ci/slurm.sh'
mkdir -p "$STATE"

log() { echo "[slurm.sh] $*"; }

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

pid_from() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }

stop_started() {
  [[ -f "$PIDS" ]] || return 0
  # Reverse start order: slurmd, slurmctld, munged.
  tac "$PIDS" | while read -r name pid; do
    if alive "$pid"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.2; done
      if alive "$pid"; then log "$name (pid $pid) still alive after 10 s; sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    fi
  done
  rm -f "$PIDS"
}

if [[ "$mode" == stop ]]; then
  stop_started
  exit 0
fi

slurm_up() { sinfo -h -o %T >/dev/null 2>&1; }

start_slurm() {
  if command -v sinfo >/dev/null && slurm_up; then
    log "Slurm already answers sinfo; reusing it: $(sinfo -h -o '%P %D %T' | tr '\n' ' ')"
    return 0
  fi
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  fi
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))

  # munge: a key, its run folder, the daemon as the munge user.
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  local mpid
  mpid=$(pid_from /run/munge/munged.pid)
  if alive "$mpid"; then
    log "munged already running (pid $mpid)"
  else
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 1 50); do mpid=$(pid_from /run/munge/munged.pid); alive "$mpid" && break; sleep 0.1; done
    alive "$mpid" || { log "munged did not start"; exit 1; }
    echo "munged $mpid" >>"$PIDS"
    log "munged started (pid $mpid)"
  fi

  # slurm.conf: one node (this host, all CPUs), one default partition, no accounting database.
  if [[ -f /etc/slurm/slurm.conf ]] && ! grep -qF "$MARK" /etc/slurm/slurm.conf; then
    log "/etc/slurm/slurm.conf exists and was not written by this script, but Slurm is not answering; refusing to overwrite it"
    exit 1
  fi
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  cat >/etc/slurm/slurm.conf <<EOF
$MARK
ClusterName=dscpp-ci
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
KillWait=15
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

  /usr/sbin/slurmctld
  local cpid=''
  for _ in $(seq 1 100); do cpid=$(pid_from /run/slurmctld.pid); alive "$cpid" && break; sleep 0.1; done
  alive "$cpid" || { log "slurmctld did not start; tail of its log:"; tail -20 /var/log/slurm/slurmctld.log || true; exit 1; }
  echo "slurmctld $cpid" >>"$PIDS"
  log "slurmctld started (pid $cpid)"
  /usr/sbin/slurmd
  local dpid=''
  for _ in $(seq 1 100); do dpid=$(pid_from /run/slurmd.pid); alive "$dpid" && break; sleep 0.1; done
  alive "$dpid" || { log "slurmd did not start; tail of its log:"; tail -20 /var/log/slurm/slurmd.log || true; exit 1; }
  echo "slurmd $dpid" >>"$PIDS"
  log "slurmd started (pid $dpid)"

  local state=''
  for i in $(seq 1 120); do
    state=$(sinfo -h -o %T 2>/dev/null | head -1 || true)
    [[ "$state" == idle ]] && break
    if [[ "$state" == down* || "$state" == drain* ]] && (( i % 10 == 0 )); then scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true; fi
    sleep 0.5
  done
  [[ "$state" == idle ]] || { log "node not idle after 60 s (state '$state'); tail of slurmctld.log:"; tail -20 /var/log/slurm/slurmctld.log || true; exit 1; }
  log "node $host idle: $(sinfo -h -o '%P %c CPUs %m MB %T')"
}

if [[ "$mode" == start ]]; then
  start_slurm
  [[ -f "$PIDS" ]] && { log "started (stop with: bash .ci/slurm.sh stop):"; cat "$PIDS"; }
  exit 0
fi

if [[ "$mode" != test ]]; then
  echo "usage: bash .ci/slurm.sh [test|start|stop]" >&2
  exit 2
fi

trap stop_started EXIT
t0=$(date +%s)
start_slurm
log "Slurm up in $(( $(date +%s) - t0 )) s"
# The jobs run dist/cli.js; the tests are bundled to dist/test/slurm/.
node esbuild.mjs --tests --quiet
# DSCPP_SLURM_REQUIRED turns "Slurm is not running" into a failure instead of a skip.
DSCPP_SLURM_REQUIRED=1 timeout 600 node --test --test-concurrency=1 dist/test/slurm/
log "Slurm tests passed in $(( $(date +%s) - t0 )) s"
