# bash completion for qps-tune(8)                          -*- shell-script -*-
# Installed as $(PREFIX)/share/bash-completion/completions/qps-tune. Commands,
# options and probe names come from the binary's own --help (so they cannot
# drift from it), profile names from 'qps-tune profiles'. Check ids are not
# completed: no command takes one. Needs only bash, not bash-completion.

_qps_tune_opts()	# options a --help text lists
{
	"$1" "${@:2}" --help 2>/dev/null | grep -oE -- '(^|[ ,[])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' ,[' | sort -u
}

_qps_tune()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local bin=${COMP_WORDS[0]} cmd="" sub="" i w
	local cmds

	[[ $bin == */* || $(type -t "$bin") == file ]] || bin=qps-tune
	cmds=$("$bin" help 2>/dev/null | awk '/^  qps-tune [a-z]/ { print $2 }')
	# the command and, for probe/profile/help, the word after it
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--state-dir | --root | --run-dir | -P | --profile | -c | --conns | -p | --pid | --port | \
		--sample | --plan | --plan-out | -d | --duration | -i | --interval | --comm | --cgroup)
			((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;
		esac
	done
	COMPREPLY=()
	case $prev in
	-P | --profile)
		COMPREPLY=($(compgen -W "$("$bin" profiles 2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur"))
		COMPREPLY+=($(compgen -f -X '!*.profile' -- "$cur"))
		return ;;
	-p | --pid)
		COMPREPLY=($(compgen -W "$(cd /proc 2>/dev/null && printf '%s ' [0-9]*)" -- "$cur"))
		return ;;
	--state-dir | --root | --run-dir | --cgroup)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	--plan | --plan-out | --pprof | --svg | --prom)
		if [[ $cmd == probe || $prev != --prom ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi ;;
	-c | --conns | --port | --sample | -d | --duration | -i | --interval | --comm | --min-us | --max-us | \
	--top | --freq | --syscall | --netns)
		return ;;	# a value: nothing to offer
	esac
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$(_qps_tune_opts "$bin")" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	probe)
		if [[ -z $sub && $cur != -* ]]; then
			COMPREPLY=($(compgen -W "$("$bin" probe --help 2>/dev/null | awk '/^  [a-z]+ / { print $1 }')" -- "$cur"))
		elif [[ -n $sub ]]; then
			COMPREPLY=($(compgen -W "$(_qps_tune_opts "$bin" probe "$sub")" -- "$cur"))
		fi ;;
	help)
		[[ -z $sub ]] && COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
	profile)
		if [[ -z $sub && $cur != -* ]]; then
			COMPREPLY=($(compgen -W "show" -- "$cur"))
		elif [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$(_qps_tune_opts "$bin" profile)" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$("$bin" profiles 2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur"))
			COMPREPLY+=($(compgen -f -X '!*.profile' -- "$cur"))
		fi ;;
	*)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "$(_qps_tune_opts "$bin" "$cmd")" -- "$cur")) ;;
	esac
}
complete -F _qps_tune qps-tune
