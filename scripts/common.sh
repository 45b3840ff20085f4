# Sourced by the project's scripts: the Swift toolchain on PATH, and two shared helpers.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "neosc: the Swift 6 toolchain is required (expected in /opt/swift or on PATH)" >&2
  exit 1
fi

# apt_install PACKAGE…: installs the Debian packages given (none: does nothing), as root or via sudo.
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "installing $*" >&2
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

# free_port: a loopback TCP port nothing is bound to now, from the 12,000 ports below the kernel's
# ephemeral range: no outgoing connection's source port or bind(0) can take it before the server
# that is handed it binds it.
free_port() {
  python3 - <<'PY'
import random, socket
first = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
upper = min(first, 32768)
ports = list(range(max(1024, upper - 12000), upper))
random.shuffle(ports)
for port in ports:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
PY
}

# wait_for_port PORT PID NAME: waits (up to 30 s) until PORT accepts connections; fails at once if
# PID exits first.
wait_for_port() {
  local port=$1 pid=$2 name=$3
  for _ in $(seq 1 300); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "$name exited before listening on port $port" >&2; return 1; fi
    sleep 0.1
  done
  echo "$name did not listen on port $port within 30 s" >&2
  return 1
}

# stop_on_exit WORK_DIR: on exit, stops every pid in the array `pids` (TERM, then KILL a second
# later) and removes WORK_DIR, whatever made the script end. Append background pids to `pids`.
pids=()
stop_on_exit() {
  stop_on_exit_dir=$1
  trap '_stop_pids_and_clean' EXIT
}
_stop_pids_and_clean() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$stop_on_exit_dir"
}
