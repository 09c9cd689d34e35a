# common.sh - shared by tests/server/*.t: start/stop the real binary, run
# python snippets against it. Source after tests/lib.sh.
#   start_server [ARGS...]   sets PORT, SPID, SLOG; fails the suite if it never listens
#   stop_server              SIGTERM, wait; sets SRC (exit status)
#   py <<'EOF' ... EOF       python3 with httpc importable and PORT in the environment
SERVER_DIR=$QPS_ROOT/tests/server
SPID=""
TMPD=$(mktemp -d /tmp/qps-server-test.XXXXXX)
_cleanup() {
	if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then kill -KILL "$SPID" 2>/dev/null; fi
	rm -rf "$TMPD"
}
trap _cleanup EXIT

start_server() {
	PORT=$(free_port) || { echo "Bail out! no free port"; exit 1; }
	SLOG=$TMPD/server.$PORT.log
	"$QPS_SERVER" --listen "127.0.0.1:$PORT" "$@" 2>"$SLOG" &
	SPID=$!
	if ! wait_port "$PORT" 10; then
		echo "Bail out! qps-server did not listen on $PORT"; sed 's/^/# /' "$SLOG"; exit 1
	fi
	export PORT
}

stop_server() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID"; SRC=$?
	SPID=""
}

py() { PYTHONPATH=$SERVER_DIR${PYTHONPATH:+:$PYTHONPATH} python3 - "$@"; }

[ -x "$QPS_SERVER" ] || { echo "Bail out! $QPS_SERVER not built"; exit 1; }
