# Reporting shared by scripts/e2e.sh and scripts/e2e_fleet.sh (sourced; bash). The sourcing script sets
# E2E_NAME (the summary's title) and defines journal_after_failure (what its containers last said).

SUMMARY=()
FAILURES=0
T_START=$SECONDS

log() { printf '>> [%3ds] %s\n' $((SECONDS - T_START)) "$*" >&2; }
pass() { SUMMARY+=("PASS     $1"); printf 'PASS  %s\n' "$1"; }
fail() {
	SUMMARY+=("FAIL     $1${2:+  ($2)}")
	FAILURES=$((FAILURES + 1))
	printf 'FAIL  %s%s\n' "$1" "${2:+  ($2)}"
	journal_after_failure
}

# check NAME COMMAND...: PASS when COMMAND succeeds; FAIL with the end of its output otherwise.
check() {
	local name=$1 output
	shift
	if output=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(tail -n 4 <<<"$output" | tr '\n' ' ')"; fi
}

# wait_for SECONDS WHAT COMMAND...: poll COMMAND every 0.5 s until it succeeds; return 1 after the deadline.
wait_for() {
	local limit=$1 what=$2 deadline=$((SECONDS + $1))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out after ${limit}s waiting for: $what"
			return 1
		fi
		sleep 0.5
	done
}

summary() {
	echo
	echo "==== meso360 $E2E_NAME summary ($((SECONDS - T_START)) s) ===="
	printf '%s\n' "${SUMMARY[@]}"
	if ((FAILURES)); then echo "==== $FAILURES check(s) FAILED ===="; else echo "==== all checks passed ===="; fi
}
