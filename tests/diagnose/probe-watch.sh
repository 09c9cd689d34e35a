# probe-watch.sh - sourced by tests/diagnose/*.t: what diagnose really
# attached, seen from outside it. watch_probes PID FILE records, every 100 ms
# while PID runs, each child of PID (its command line) and the BPF programs it
# holds (prog_id of /proc/CHILD/fdinfo/*, named by bpftool), one line each:
#   child: qps-tune --json probe syslat --pid 42 ... 
#   prog: syslat sl_enter_btf
# BPF programs are host-wide: only those held by diagnose's own children
# count, so other work on the host cannot disturb the result.
watch_probes() {
	local pid=$1 out=$2 kid name id pn i
	declare -A seen=()
	: > "$out"
	for ((i = 0; i < 400; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		for kid in $(pgrep -P "$pid"); do
			[ -r "/proc/$kid/cmdline" ] || continue
			name=$(tr '\0' ' ' < "/proc/$kid/cmdline")
			[ -n "${seen[c$kid]:-}" ] || { seen[c$kid]=1; echo "child: $name" >> "$out"; }
			pn=$(awk '{print $4}' <<<"$name")
			for id in $(grep -h '^prog_id:' /proc/"$kid"/fdinfo/* 2>/dev/null | awk '{print $2}'); do
				[ -n "${seen[p$id]:-}" ] && continue
				seen[p$id]=1
				echo "prog: $pn $(bpftool prog show id "$id" -j 2>/dev/null | jq -r '.name // "?"')" >> "$out"
			done
		done
		sleep 0.1
	done
}
