#!/bin/bash
# End-to-end test of the meso360 Debian package in a booted systemd (make e2e; root).
#
# Installs the .deb with apt into a Debian 12 root made by debootstrap (cached in $CACHE/base,
# built when absent, copied per run), boots it with systemd-nspawn --private-network (nothing
# but loopback is reachable once booted) and checks the units' systemd contract: notify/STATUS,
# restart after a crash, watchdog, exit 78 without a restart loop, journal priorities,
# meso360ctl, the reverse tunnel against an OpenSSH "bastion" sshd on 127.0.0.1 inside the
# container (forward to the container's own sshd, outage and recovery), meso360-web (pages, API,
# read-only without a password, control through systemd and the package's polkit rule, enable/disable
# through meso360-unitfile@.service (other instances refused, as root and by polkit), the journal
# stream; tests/system/webcheck.py is its HTTP client inside), one user per daemon (the web user cannot
# read the tunnel key nor write the data), upgrade, remove and purge, then an upgrade from the previous
# package (one user for all daemons) whose files change owner. Before all that, in a second fresh copy
# of the root (with the host's network), `make deps` from a copy of the repository leaves
# dpkg-checkbuilddeps nothing missing. Prints PASS/FAIL per check; exits 1 on any FAIL.
#
# Environment: MESO360_E2E_DEB   the .deb to test (default: run `make deb` and use its output)
#              MESO360_E2E_PREVIOUS_REF  git commit of the previous package (one user for all daemons), built
#                                        and cached; or MESO360_E2E_PREVIOUS_DEB, that package (neither: skipped)
#              MESO360_E2E_CACHE base root and apt download cache (default /var/cache/meso360-e2e)
#              MESO360_E2E_KEEP=1 keep the work directory (root, console and install logs)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MESO360_E2E_CACHE:-/var/cache/meso360-e2e}
MIRROR=http://deb.debian.org/debian
SIM_URL=http://127.0.0.1:8081
BASE_MARK=.meso360-e2e-base-complete
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8

WORK=$(mktemp -d /var/tmp/meso360-e2e.XXXXXX)
ROOT=$WORK/root
NSPAWN_PID=
INIT_PID=
E2E_NAME=e2e
# shellcheck source=scripts/e2e_lib.sh
. "$REPO/scripts/e2e_lib.sh" # log, pass, fail, check, wait_for, summary

# --- reporting ----------------------------------------------------------------------------------

# journal_after_failure: what the meso360 units last said, and their states, so that a failure in CI,
# where nothing can be looked at afterwards, can be understood from the log alone.
journal_after_failure() {
	[ -n "$INIT_PID" ] && kill -0 "$INIT_PID" 2>/dev/null || return 0
	ct systemctl list-units --all --plain --no-legend 'meso360*' 2>&1 | sed 's/^/   unit| /' >&2
	ct journalctl --no-pager -n 40 -o short-monotonic -u 'meso360-*' 2>&1 | sed 's/^/journal| /' >&2
}
skip() { SUMMARY+=("SKIPPED  $1"); printf 'SKIPPED  %s\n' "$1"; }

# --- the container ------------------------------------------------------------------------------

# ct COMMAND...: run COMMAND inside the booted container (all its namespaces), clean environment.
ct() { nsenter -t "$INIT_PID" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
prop() { ct systemctl show -P "$2" "$1"; }

stop_container() {
	[ -n "$NSPAWN_PID" ] || return 0
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" # systemd-nspawn asks the container's systemd to power off
		wait_for 30 "container power-off" sh -c "! kill -0 $NSPAWN_PID" ||
			{ kill -KILL "$NSPAWN_PID" 2>/dev/null || true; [ -z "$INIT_PID" ] || kill -KILL "$INIT_PID" 2>/dev/null || true; }
	fi
	wait "$NSPAWN_PID" 2>/dev/null || true
	NSPAWN_PID=
}

cleanup() {
	local status=$?
	stop_container
	if [ "${MESO360_E2E_KEEP:-}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Debian 12 minbase + systemd, built once per machine (flock: one builder), copied per run.
prepare_root() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
	if [ ! -e "$CACHE/base/$BASE_MARK" ]; then
		log "building the base root with debootstrap (cached in $CACHE/base)"
		rm -rf "$CACHE/base" "$CACHE/base.tmp"
		debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$CACHE/base.tmp" "$MIRROR" \
			>"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log"; exit 1; }
		touch "$CACHE/base.tmp/$BASE_MARK"
		mv "$CACHE/base.tmp" "$CACHE/base"
	fi
	cp -a "$CACHE/base" "$ROOT"
	flock -u 9
	exec 9>&-
}

# `make deps` as a developer runs it on a fresh Debian 12 (as root, make and git installed), in its own copy of
# the base root with the host's network: afterwards dpkg-checkbuilddeps must find nothing missing (the
# build dependencies come from debian/control alone).
check_make_deps() {
	local fresh=$WORK/fresh-root src=/root/meso360-src
	cp -a "$CACHE/base" "$fresh"
	mkdir -p "$fresh$src" "$CACHE/apt-archives/partial" # the bind mount's source: absent on a machine's first run
	git -C "$REPO" ls-files -z --cached --others --exclude-standard |
		(cd "$REPO" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$fresh$src"
	if systemd-nspawn -q -D "$fresh" --register=no --keep-unit --pipe \
		--bind="$CACHE/apt-archives:/var/cache/apt/archives" -E DEBIAN_FRONTEND=noninteractive \
		/bin/sh -c "apt-get update -qq && apt-get install -y -q --no-install-recommends make &&
			cd $src && make deps && dpkg-checkbuilddeps" >"$WORK/make-deps.log" 2>&1 </dev/null; then
		pass "make deps on a fresh Debian 12: dpkg-checkbuilddeps finds no build dependency missing"
	else
		fail "make deps on a fresh Debian 12, then dpkg-checkbuilddeps" "$(tail -n 4 "$WORK/make-deps.log" | tr '\n' ' ')"
	fi
	rm -rf "$fresh"
}

# apt install of the .deb, not booted, with the host's network: dependencies come from Debian.
# TEST_PACKAGES too: no network once booted. OpenSSH is the vehicle's sshd (the tunnel's forward
# target), the stand-in bastion's sshd and ssh-keygen (meso360ctl tunnel keygen) / ssh-keyscan.
TEST_PACKAGES="openssh-server openssh-client"
# polkitd is a Recommends (a default apt install has it; --no-install-recommends keeps avahi and the
# rest out): the web daemon's control actions are authorised by the package's polkit rule.
RECOMMENDED_PACKAGES="polkitd"
# The previous package's dependencies too (it used other libraries, e.g. python3-cheroot): the booted
# container has no network when the upgrade from it is tested.
previous_dependencies() {
	[ -n "${PREVIOUS_DEB:-}" ] || return 0
	dpkg-deb -f "$PREVIOUS_DEB" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/ //g' |
		grep -vx -e '' -e 'python3' | tr '\n' ' '
}
install_package() {
	mkdir -p "$CACHE/apt-archives/partial"
	cp "$DEB" "$UPGRADE_DEB" ${PREVIOUS_DEB:+"$PREVIOUS_DEB"} "$ROOT/root/"
	systemd-nspawn -q -D "$ROOT" --register=no --keep-unit --pipe \
		--bind="$CACHE/apt-archives:/var/cache/apt/archives" -E DEBIAN_FRONTEND=noninteractive \
		/bin/sh -c "apt-get update -qq && apt-get install -y -q --no-install-recommends /root/$(basename "$DEB") $RECOMMENDED_PACKAGES $TEST_PACKAGES $(previous_dependencies)" \
		>"$WORK/install.log" 2>&1 </dev/null
}

find_init() { INIT_PID=$(pgrep -P "$NSPAWN_PID" | head -n 1) && [ -n "$INIT_PID" ]; }
system_up() {
	local state
	state=$(ct systemctl is-system-running 2>/dev/null) || true
	[ "$state" = running ] || [ "$state" = degraded ]
}

boot() {
	systemd-nspawn -q -D "$ROOT" --boot --private-network --register=no --keep-unit --console=read-only \
		>"$WORK/console.log" 2>&1 </dev/null &
	NSPAWN_PID=$!
	wait_for 30 "the container's init process" find_init || return 1
	wait_for 120 "systemctl is-system-running: running or degraded" system_up
}

# --- the package under test ---------------------------------------------------------------------

# A second .deb: the same files with a bumped version and a changed packaged config, so the
# upgrade meets a conffile changed on both sides (dpkg must keep the admin's version).
make_upgrade_deb() {
	local dir=$WORK/upgrade version
	dpkg-deb -R "$DEB" "$dir"
	version="$(dpkg-deb -f "$DEB" Version)+e2e1"
	sed -i "s/^Version: .*/Version: $version/" "$dir/DEBIAN/control"
	printf '# packaged config of %s\n' "$version" >>"$dir/etc/meso360/meso360.conf"
	UPGRADE_DEB=$WORK/meso360_${version}_all.deb
	dpkg-deb -b -Zxz "$dir" "$UPGRADE_DEB" >/dev/null
	UPGRADE_VERSION=$version
}

# --- checks -------------------------------------------------------------------------------------

today_file() { echo "/var/lib/meso360/data/$(date -u +%Y%m%d).txt"; }
data_rows() { ct sh -c 'cat /var/lib/meso360/data/????????.txt 2>/dev/null | grep -vc "^sfc_wspd," || true'; }
rows_at_least() { (($(data_rows) >= $1)); }
unit_is() { [ "$(prop "$1" ActiveState)" = "$2" ]; }
nrestarts_is() { [ "$(prop "$1" NRestarts)" = "$2" ] && unit_is "$1" active; }
status_text_matches() { prop "$1" StatusText | grep -Eqi "$2"; }
continuity() { ct python3 /root/continuity.py "$@"; }
# wait until ingest wrote N more rows, then compare the files with the simulator's records.
progress_then_continuity() {
	local target=$(($(data_rows) + $1))
	wait_for 30 "$1 more rows" rows_at_least "$target" && continuity "${@:2}"
}
rows_digest() { ct sh -c "cat /var/lib/meso360/data/????????.txt | grep -v '^sfc_wspd,' | head -n $1 | md5sum"; }
seconds_of() { # a systemd time span ("30s", "1min 30s") in whole seconds
	ct systemd-analyze timespan "$1" | sed -n 's/^ *μs: *\([0-9]*\).*/\1/p' | awk '{print int($1 / 1000000)}'
}
security_score() { ct systemd-analyze security --no-pager "$1" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'; }
score_ok() { awk -v score="$1" -v limit="$2" 'BEGIN { exit !(score != "" && score <= limit) }'; } # score_ok SCORE LIMIT
score_limit() { # the exposure each unit had with one user for all daemons (measured by this test): never more
	case $1 in
	meso360-ingest.service) echo 1.0 ;; meso360-web.service) echo 1.3 ;; meso360-tunnel.service) echo 1.1 ;;
	meso360-sim.service) echo 0.9 ;; meso360-unitfile@*) echo 0.5 ;; meso360-avahi.service) echo 0.5 ;; meso360-journal@*) echo 1.0 ;; *) echo 2.5 ;;
	esac
}
pid_changed() { [ "$(prop "$1" MainPID)" != "$2" ]; } # pid_changed UNIT OLD_PID
set_conf() { # set_conf KEY VALUE: uncomment/replace KEY in the installed config, as an admin would
	ct sed -i -E "s|^#?$1 = .*|$1 = $2|" /etc/meso360/meso360.conf
}
stays_failed() { # stays_failed UNIT SECONDS: still failed, never restarted, for SECONDS
	local until=$((SECONDS + $2))
	while ((SECONDS < until)); do
		unit_is "$1" failed || return 1
		sleep 0.5
	done
	[ "$(prop "$1" NRestarts)" = 0 ]
}

check_package_state() {
	check "package: meso360 installed by apt with its Debian dependencies" \
		ct dpkg-query -W -f '${Status}\n' meso360 python3-requests python3-systemd python3-paramiko
	check "package: one system user per daemon (sysusers.d), primary group meso360, none in systemd-journal" eval "
		for user in meso360-ingest meso360-web meso360-tunnel; do
			[ \"\$(ct id -gn \$user)\" = meso360 ] && ! ct id -nG \$user | grep -qw systemd-journal || exit 1
		done"
	check "package: no daemon unit has systemd-journal (the journal reader alone); sim has DynamicUser" eval "
		for unit in meso360-ingest.service meso360-web.service meso360-tunnel.service meso360-sim.service; do
			[ -z \"\$(prop \$unit SupplementaryGroups)\" ] || exit 1
		done
		[ \"\$(prop meso360-journal@0.service SupplementaryGroups)\" = systemd-journal ] &&
		[ \"\$(prop meso360-sim.service DynamicUser)\" = yes ]"
	check "package: meso360-journal.socket listening, /run/meso360-journal.sock 0600 meso360-web" eval "
		unit_is meso360-journal.socket active &&
		[ \"\$(ct stat -c '%a %U' /run/meso360-journal.sock)\" = '600 meso360-web' ]"
	check "package: /var/lib/meso360/{data,support,state} 750 meso360-ingest:meso360, state/tunnel meso360-tunnel's" eval "
		[ \"\$(ct stat -c '%a %U:%G' /var/lib/meso360/data /var/lib/meso360/support /var/lib/meso360/state | sort -u)\" = '750 meso360-ingest:meso360' ] &&
		[ \"\$(ct stat -c '%a %U:%G' /var/lib/meso360/state/tunnel)\" = '750 meso360-tunnel:meso360' ] &&
		[ \"\$(ct stat -c '%a %U:%G' /var/lib/meso360)\" = '755 root:root' ]"
	check "package: /etc/meso360/meso360.conf is a conffile, 0640 root:meso360" \
		eval "[ \"\$(ct stat -c '%a %U:%G' /etc/meso360/meso360.conf)\" = '640 root:meso360' ] &&
			ct dpkg-query -W -f '\${Conffiles}' meso360 | grep -q /etc/meso360/meso360.conf"
	check "package: meso360.target and services enabled, meso360-sim not" eval "
		ct systemctl is-enabled meso360.target meso360-ingest.service meso360-tunnel.service &&
		[ \"\$(ct systemctl is-enabled meso360-sim.service)\" = disabled ]"
	check "units: systemd-analyze verify is clean" eval '
		out=$(ct sh -c "cd /lib/systemd/system && systemd-analyze verify --man=no meso360*.service meso360*.socket meso360*.target" 2>&1)
		echo "$out"; [ -z "$out" ]'
	check "package: meso360-unitfile@.service installed, static (no [Install]), no instance loaded" eval "
		[ \"\$(ct systemctl is-enabled meso360-unitfile@.service)\" = static ] &&
		no_unitfile_units"
	# After the check above: showing a unitfile@ instance loads it for a moment.
	check "units: every meso360 service has the shared sandbox drop-in, the web its exceptions after it" eval "
		for unit in meso360-ingest.service meso360-web.service meso360-tunnel.service meso360-sim.service \
			meso360-unitfile@enable-sim.service meso360-journal@0.service; do
			prop \$unit DropInPaths | grep -q /systemd/system/meso360-.service.d/10-sandbox.conf || exit 1
		done
		[ \"\$(prop meso360-web.service ProtectProc) \$(prop meso360-web.service ProcSubset)\" = 'invisible all' ] &&
		[ \"\$(prop meso360-ingest.service ProcSubset)\" = pid ]"
	local unit score
	for unit in $(ct sh -c 'cd /lib/systemd/system && ls meso360*.service'); do
		case $unit in # a template is scored as one of its instances
		meso360-unitfile@.service) unit=meso360-unitfile@enable-sim.service ;;
		*@.service) unit=${unit/@./@0.} ;;
		esac
		score=$(security_score "$unit")
		SCORES+=("$unit $score")
		check "units: systemd-analyze security $unit exposure ${score:-?} <= $(score_limit "$unit")" \
			score_ok "$score" "$(score_limit "$unit")"
	done
}

check_boot_state() {
	check "boot: meso360.target active" unit_is meso360.target active
	check "boot: ingest active with the default config (vehicle logger, unreachable here)" \
		unit_is meso360-ingest.service active
	check "boot: ingest STATUS is set: $(prop meso360-ingest.service StatusText)" \
		test -n "$(prop meso360-ingest.service StatusText)"
	local unit
	for unit in $(ct sh -c 'cd /etc/systemd/system/meso360.target.wants && ls' | grep -v -e meso360-ingest -e meso360-tunnel); do
		check "boot: $unit active" unit_is "$unit" active
	done
	check "boot: tunnel skipped cleanly by ExecCondition (no [tunnel] host)" eval "
		[ \"\$(ct systemctl show -P Result meso360-tunnel.service)\" = exec-condition ] &&
		[ \"\$(ct systemctl show -P ActiveState meso360-tunnel.service)\" = inactive ]"
	check "boot: simulator not started (not enabled)" unit_is meso360-sim.service inactive
}

check_simulator_switch() {
	set_conf logger_url "$SIM_URL"
	ct systemctl enable --quiet --now meso360-sim.service
	# The target does not wait for its services (DefaultDependencies=no, see the unit): wait for READY.
	ct systemctl restart meso360.target
	check "sim: meso360-sim active (Type=notify READY)" wait_for 30 "meso360-sim active" \
		unit_is meso360-sim.service active
	# READY carries "logger on port ..."; the record STATUS follows within its 5 s interval.
	check "sim: STATUS mentions the newest record" wait_for 15 "sim STATUS with records" \
		status_text_matches meso360-sim.service 'record'
	log "sim STATUS: $(prop meso360-sim.service StatusText)"
	check "ingest: active after the one-line switch to the simulator" wait_for 30 "meso360-ingest active" \
		unit_is meso360-ingest.service active
	check "ingest: rows reach today's data file $(today_file)" wait_for 30 "rows in today's file" \
		ct sh -c "[ \$(wc -l < $(today_file)) -ge 6 ]"
	check "ingest: data file owned by meso360-ingest:meso360, not world-readable" \
		eval "[ \"\$(ct stat -c '%U:%G %A' $(today_file))\" = 'meso360-ingest:meso360 -rw-r-----' ]"
	check "users: the web and tunnel users may read the data file but not write it" eval "
		for user in meso360-web meso360-tunnel; do
			ct runuser -u \$user -- head -c 1 $(today_file) >/dev/null &&
			! ct runuser -u \$user -- sh -c ': >> $(today_file)' 2>/dev/null || exit 1
		done"
	check "users: base's read-only meso360-fleet reads the data file, cannot write it, and cannot look into state/ (ACL)" eval "
		ct runuser -u meso360-fleet -- head -c 1 $(today_file) >/dev/null &&
		! ct runuser -u meso360-fleet -- sh -c ': >> $(today_file)' 2>/dev/null &&
		! ct runuser -u meso360-fleet -- ls /var/lib/meso360/state >/dev/null 2>&1 &&
		ct runuser -u meso360-web -- ls /var/lib/meso360/state >/dev/null && ct test -x /usr/bin/rrsync"
	check "ingest: STATUS mentions the logger/records: $(prop meso360-ingest.service StatusText)" \
		status_text_matches meso360-ingest.service 'record|logger'
	check "ingest: every simulator record written once, in order" continuity
}

check_crash_restart() {
	local pid restarts
	pid=$(prop meso360-ingest.service MainPID)
	restarts=$(prop meso360-ingest.service NRestarts)
	ct sh -c "kill -KILL $pid"
	check "kill -9: systemd restarts ingest (NRestarts $restarts -> $((restarts + 1)))" \
		wait_for 30 "ingest restarted" nrestarts_is meso360-ingest.service $((restarts + 1))
	check "kill -9: no record lost or duplicated across the restart" progress_then_continuity 5
}

check_watchdog() {
	local pid restarts watchdog restart_delay since elapsed
	pid=$(prop meso360-ingest.service MainPID)
	restarts=$(prop meso360-ingest.service NRestarts)
	watchdog=$(seconds_of "$(prop meso360-ingest.service WatchdogUSec)")
	restart_delay=$(seconds_of "$(prop meso360-ingest.service RestartUSec)")
	since=$(date +%s)
	ct sh -c "kill -STOP $pid"
	if wait_for $((watchdog + restart_delay + 15)) "watchdog restart" nrestarts_is meso360-ingest.service $((restarts + 1)); then
		elapsed=$(($(date +%s) - since))
		check "kill -STOP: watchdog restarts ingest in ${elapsed}s (WatchdogSec ${watchdog} + RestartSec ${restart_delay})" \
			test "$elapsed" -le $((watchdog + restart_delay + 5))
	else
		fail "kill -STOP: watchdog restarts ingest" "not restarted within $((watchdog + restart_delay + 15))s"
	fi
	check "kill -STOP: journal says 'Watchdog timeout'" eval "
		ct journalctl --no-pager -u meso360-ingest --since @$since | grep -q 'Watchdog timeout'"
	check "kill -STOP: no record lost or duplicated across the restart" progress_then_continuity 5
}

check_meso360ctl() {
	if ! ct sh -c 'command -v meso360ctl' >/dev/null; then
		skip "meso360ctl not available: status exit codes and gaps NOT TESTED"
		return
	fi
	check "meso360ctl status: exit 0 when healthy" wait_for 20 "meso360ctl status exit 0" ct meso360ctl status
	ct systemctl stop meso360-ingest.service
	check "meso360ctl status: exit 1 with ingest stopped" eval 'ct meso360ctl status; [ $? -eq 1 ]'
	ct systemctl start meso360-ingest.service
	check "meso360ctl status: exit 0 again after start" wait_for 20 "meso360ctl status exit 0" ct meso360ctl status
	check "meso360ctl gaps: today's file reported" ct meso360ctl gaps
}

# --- reverse tunnel: meso360-tunnel against a real OpenSSH "bastion" inside the container ---------

# transient (systemd-run), stopped by name; not meso360-*: the shared sandbox drop-in meso360-.service.d/ would apply
BASTION_UNIT=e2e-bastion.service
BASTION_DIR=/etc/meso360-e2e-bastion
BASTION_PORT=2200
BASTION_USER=bastion
OFFLINE_BASTION_PORT=2299 # nothing listens there
TUNNEL_REMOTE_PORT=2222
TUNNEL=meso360-tunnel.service

tunnel_state() { # the "state" field of tunnel.json, as `meso360ctl status --json` reports it
	ct meso360ctl status --json | python3 -c 'import json, sys; print(((json.load(sys.stdin)["tunnel"] or {}).get("state") or {}).get("state"))'
}
tunnel_json() { ct cat /var/lib/meso360/state/tunnel/tunnel.json; }
tunnel_verified_at() { tunnel_json | python3 -c 'import json, sys; print(json.load(sys.stdin)["verified_at"])'; }
tunnel_is_up() { # tunnel.json up/verified, STATUS "tunnel up: ..., verified N s ago, ..." and unit active
	unit_is $TUNNEL active && tunnel_json | grep -q '"state": "up".*"detail": "verified"' &&
		status_text_matches $TUNNEL '^tunnel up: 127\.0\.0\.1:'$TUNNEL_REMOTE_PORT' → :22, verified [0-9]+ s ago, [0-9]+ reconnects$'
}
tunnel_is_down() { tunnel_json | grep -q '"state": "down"' && status_text_matches $TUNNEL '^tunnel down: '; }
tunnel_reconnects() { prop $TUNNEL StatusText | sed -n 's/.*(\([0-9]*\) reconnects)$/\1/p'; } # while down or connecting
reconnects_at_least() { local count; count=$(tunnel_reconnects); [ -n "$count" ] && ((count >= $1)); }
tunnel_reverified_since() { tunnel_is_up && [ "$(tunnel_verified_at)" != "$1" ]; }
port_open() { ct timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"; }
# The banner that comes back from the bastion's port 2222: the vehicle sshd's, through the tunnel.
forwarded_banner() { ct timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TUNNEL_REMOTE_PORT && head -c 8 <&3"; }
# ssh-keyscan through the forward must return the vehicle sshd's own host key (not the bastion's).
forward_reaches_vehicle_sshd() {
	local scanned vehicle
	scanned=$(ct ssh-keyscan -T 5 -t ed25519 -p $TUNNEL_REMOTE_PORT 127.0.0.1 2>/dev/null | awk '{print $3}')
	vehicle=$(ct awk '{print $2}' /etc/ssh/ssh_host_ed25519_key.pub)
	echo "through the tunnel: ${scanned:-nothing}; vehicle sshd: $vehicle"
	[ -n "$scanned" ] && [ "$scanned" = "$vehicle" ]
}

start_bastion() {
	ct mkdir -p /run/sshd # privilege separation directory (also ssh.service's)
	ct systemd-run --quiet --collect --unit=$BASTION_UNIT /usr/sbin/sshd -D -e -f $BASTION_DIR/sshd_config &&
		wait_for 15 "bastion sshd on 127.0.0.1:$BASTION_PORT" port_open $BASTION_PORT
}
stop_bastion() { ct systemctl stop $BASTION_UNIT 2>/dev/null || true; }

# A bastion as the base's: its own sshd_config and host key, key-only login for one user whose
# authorized_keys line is the one meso360ctl prints (restrict, permitlisten/permitopen its port).
setup_bastion() {
	ct useradd --system --no-create-home --shell /bin/sh --password '*' $BASTION_USER || return 1
	ct mkdir -p -m 0755 $BASTION_DIR/authorized_keys
	ct ssh-keygen -q -t ed25519 -N '' -C e2e-bastion -f $BASTION_DIR/ssh_host_ed25519_key || return 1
	ct tee $BASTION_DIR/sshd_config >/dev/null <<-EOF
		Port $BASTION_PORT
		ListenAddress 127.0.0.1
		HostKey $BASTION_DIR/ssh_host_ed25519_key
		PidFile /run/meso360-e2e-bastion.pid
		AuthorizedKeysFile $BASTION_DIR/authorized_keys/%u
		AllowUsers $BASTION_USER
		UsePAM no
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PubkeyAuthentication yes
		PermitRootLogin no
		AllowTcpForwarding yes
		GatewayPorts no
		ClientAliveInterval 15
		ClientAliveCountMax 3
		LogLevel VERBOSE
	EOF
	ct sshd -t -f $BASTION_DIR/sshd_config
}

check_tunnel() {
	local line pid restarts verified
	ct cp -p /etc/meso360/meso360.conf /root/meso360.conf.before-tunnel
	check "tunnel: the vehicle's sshd (ssh.service) runs on port 22" eval "
		ct systemctl start ssh.service && wait_for 15 'sshd on port 22' port_open 22"
	if ! setup_bastion >"$WORK/bastion-setup.log" 2>&1 || ! start_bastion; then
		fail "tunnel: bastion sshd on 127.0.0.1:$BASTION_PORT" "$(tail -n 4 "$WORK/bastion-setup.log" | tr '\n' ' ')"
		stop_bastion
		return
	fi
	pass "tunnel: bastion sshd ($BASTION_UNIT) on 127.0.0.1:$BASTION_PORT"
	# The [tunnel] keys, right under the section header (keygen needs remote_port); small intervals.
	ct sed -i "/^\[tunnel\]\$/a host = 127.0.0.1\\nport = $BASTION_PORT\\nuser = $BASTION_USER\\nremote_port = $TUNNEL_REMOTE_PORT\\nkeepalive_interval = 2\\nprobe_interval = 5\\nconnect_timeout = 5\\nretry_max_delay = 2" \
		/etc/meso360/meso360.conf
	# No ssh-keygen on PATH (a minimal install has no openssh-client): keygen needs only the package's dependencies.
	line=$(ct env PATH=/nonexistent /usr/bin/meso360ctl tunnel keygen 2>&1 | grep '^restrict,') || true
	check "tunnel: meso360ctl tunnel keygen (no ssh-keygen on PATH): /etc/meso360/tunnel_key owned by meso360-tunnel, 0600" eval "
		[ -n \"\$line\" ] && [ \"\$(ct stat -c '%U %a' /etc/meso360/tunnel_key)\" = 'meso360-tunnel 600' ]"
	check "users: the web user (even with group systemd-journal) and the ingest user cannot read the tunnel key" eval "
		! ct runuser -u meso360-web -g meso360 -G systemd-journal -- cat /etc/meso360/tunnel_key 2>/dev/null &&
		! ct runuser -u meso360-ingest -- cat /etc/meso360/tunnel_key 2>/dev/null &&
		ct runuser -u meso360-tunnel -- test -r /etc/meso360/tunnel_key"
	printf '%s\n' "$line" | ct tee $BASTION_DIR/authorized_keys/$BASTION_USER >/dev/null
	check "tunnel: meso360ctl tunnel trust 127.0.0.1 --port $BASTION_PORT --yes pins the bastion's key" eval "
		ct meso360ctl tunnel trust 127.0.0.1 --port $BASTION_PORT --yes &&
		ct grep -qF \"\$(ct awk '{print \$1, \$2}' $BASTION_DIR/ssh_host_ed25519_key.pub)\" /etc/meso360/known_hosts"
	# --no-block: READY=1 comes only once the forward is verified (TimeoutStartSec=infinity).
	ct systemctl restart --no-block $TUNNEL
	check "tunnel: active (READY) with STATUS 'tunnel up: ... verified'" \
		wait_for 30 "tunnel up and verified" tunnel_is_up
	log "tunnel STATUS: $(prop $TUNNEL StatusText)"
	check "tunnel: 127.0.0.1:$TUNNEL_REMOTE_PORT (bastion) answers with an SSH-2.0- banner" eval '
		[ "$(forwarded_banner)" = SSH-2.0- ]'
	check "tunnel: ssh-keyscan through the forward gets the vehicle sshd's host key" forward_reaches_vehicle_sshd
	check "tunnel: meso360ctl status exit 0, shows 'tunnel: up'" eval "
		out=\$(ct meso360ctl status); rc=\$?; echo \"\$out\"; [ \$rc -eq 0 ] && grep -q '^tunnel: up since' <<<\"\$out\" &&
		grep -Eq '^ ok meso360-tunnel.service +active/running' <<<\"\$out\""
	check "tunnel: meso360ctl status --json: tunnel state up" eval '[ "$(tunnel_state)" = up ]'

	pid=$(prop $TUNNEL MainPID)
	restarts=$(prop $TUNNEL NRestarts)
	verified=$(tunnel_verified_at)
	stop_bastion
	check "tunnel: bastion stopped -> tunnel.json state down, STATUS 'tunnel down: ...'" \
		wait_for 20 "tunnel down" tunnel_is_down
	log "tunnel STATUS: $(prop $TUNNEL StatusText)"
	# Three reconnect attempts (retry_max_delay = 2): no restart, no crash, still down.
	check "tunnel: three reconnect attempts while the bastion is down" \
		wait_for 30 "three reconnect attempts" eval "reconnects_at_least $(($(tunnel_reconnects) + 3)) && tunnel_is_down"
	check "tunnel: still active while down, same MainPID, NRestarts $restarts (no restart loop)" eval "
		unit_is $TUNNEL active && [ \"\$(prop $TUNNEL MainPID)\" = '$pid' ] &&
		[ \"\$(prop $TUNNEL NRestarts)\" = '$restarts' ] && tunnel_is_down"
	check "tunnel: meso360ctl status --json: tunnel state down" eval '[ "$(tunnel_state)" = down ]'
	check "tunnel: the journal has the outage at priority warning" eval "
		ct journalctl --no-pager -o cat -u $TUNNEL -p warning | grep -q 'tunnel down:'"
	if start_bastion; then
		check "tunnel: bastion back -> up and verified again (new verification, same MainPID)" eval "
			wait_for 30 'tunnel verified again' tunnel_reverified_since '$verified' &&
			[ \"\$(prop $TUNNEL MainPID)\" = '$pid' ]"
		log "tunnel STATUS: $(prop $TUNNEL StatusText)"
		check "tunnel: the forward works again (vehicle sshd's host key through port $TUNNEL_REMOTE_PORT)" \
			forward_reaches_vehicle_sshd
		check "tunnel: meso360ctl status exit 0, --json tunnel state up" eval '
			ct meso360ctl status >/dev/null && [ "$(tunnel_state)" = up ]'
	else
		fail "tunnel: bastion sshd restarted" "port $BASTION_PORT not listening"
	fi

	# Back to no tunnel: the later checks (upgrade: postinst restarts the units) run as before.
	stop_bastion
	ct cp -p /root/meso360.conf.before-tunnel /etc/meso360/meso360.conf
	ct systemctl stop $TUNNEL
	check "tunnel: bastion stopped ($BASTION_UNIT gone), tunnel stopped" eval "
		! port_open $BASTION_PORT && unit_is $TUNNEL inactive &&
		[ \"\$(ct systemctl show -P LoadState $BASTION_UNIT)\" = not-found ]"
}

check_config_error() {
	local since
	ct cp -p /etc/meso360/meso360.conf /root/meso360.conf.good
	set_conf poll_interval fast
	since=$(date +%s)
	ct systemctl restart meso360-ingest.service 2>/dev/null || true
	check "config error: ingest fails with exit status 78, Result=exit-code" eval "
		[ \"\$(ct systemctl show -P ActiveState meso360-ingest.service)\" = failed ] &&
		[ \"\$(ct systemctl show -P Result meso360-ingest.service)\" = exit-code ] &&
		[ \"\$(ct systemctl show -P ExecMainStatus meso360-ingest.service)\" = 78 ]"
	# A restart would come after RestartSec (3 s): watch twice that long that none comes.
	check "config error: no restart loop (NRestarts 0, still failed after 2 x RestartSec)" \
		stays_failed meso360-ingest.service $((2 * $(seconds_of "$(prop meso360-ingest.service RestartUSec)")))
	check "config error: the journal names the bad key (poll_interval), at priority err" eval "
		ct journalctl --no-pager -o cat -u meso360-ingest -p err --since @$since | grep -q poll_interval"
	check "journal: -p warning filters out the info messages" eval "
		all=\$(ct journalctl --no-pager -o cat -u meso360-ingest | wc -l)
		info=\$(ct journalctl --no-pager -o cat -u meso360-ingest -p info..info | wc -l)
		warn=\$(ct journalctl --no-pager -o cat -u meso360-ingest -p warning | wc -l)
		echo \"all \$all info \$info warning-or-worse \$warn\"; [ \$info -gt 0 ] && [ \$warn -gt 0 ] && [ \$warn -lt \$all ]"
	ct cp -p /root/meso360.conf.good /etc/meso360/meso360.conf
	ct systemctl reset-failed meso360-ingest.service
	ct systemctl start meso360-ingest.service || true
	check "config error: ingest active again after the config is fixed" unit_is meso360-ingest.service active
	check "config error: no record lost over the config outage" progress_then_continuity 5
}

# --- web: pages and API, read-only without a password, control through systemd + polkit ----------

WEB=meso360-web.service
WEB_PASSWORD="e2e operator $$" # set with meso360ctl passwd --password-stdin, cleared at the end
web() { ct python3 /root/webcheck.py "$@"; }
web_with_password() { printf '%s\n' "$WEB_PASSWORD" | web "$@"; }
set_web_password() { printf '%s\n' "$WEB_PASSWORD" | ct meso360ctl passwd --password-stdin; }
# systemctl as the web daemon's user, asking polkit over D-Bus (no agent: --no-ask-password).
as_meso360() { ct runuser -u meso360-web -- systemctl --no-ask-password "$@"; } # as the web daemon's user
as_ingest_user() { ct runuser -u meso360-ingest -- systemctl --no-ask-password "$@"; }
web_status_ok() { # active, and STATUS as the daemon sends it with observations in its window
	unit_is $WEB active &&
		status_text_matches $WEB '^serving on 0\.0\.0\.0:8080, [0-9]+ SSE clients, newest obs [0-9]+ s old$'
}
# denied COMMAND...: systemctl refused, as polkit answers when no rule grants it: the default for
# systemd's actions is auth_admin, "Interactive authentication required" without an agent.
denied() {
	local output
	output=$("$@" 2>&1) && { echo "allowed: $output"; return 1; }
	echo "$output"
	grep -Eq 'Interactive authentication required|Access denied' <<<"$output"
}

avahi_file() { ct cat /etc/avahi/services/meso360.service; }
# The avahi service file follows [web] listen and mdns_name, and exists only while the web daemon runs.
check_avahi_service() {
	check "package: without avahi (no /etc/avahi/services) meso360-avahi.service is skipped, not failed; meso360-web wants it" eval "
		ct systemctl show -P Wants meso360-web.service | grep -qw meso360-avahi.service &&
		[ \"\$(prop meso360-avahi.service ConditionResult)\" = no ] &&
		! unit_is meso360-avahi.service failed &&
		! ct test -e /etc/avahi/services/meso360.service"
	ct mkdir -p /etc/avahi/services # what installing avahi-daemon creates
	set_conf listen 0.0.0.0:8090
	set_conf mdns_name 'MM1 <rack>'
	ct systemctl restart meso360-web.service
	check "avahi: at web start the service file announces [web] listen's port and mdns_name (XML-escaped), 0644 root" eval "
		wait_for 30 'meso360-avahi active' unit_is meso360-avahi.service active &&
		avahi_file | grep -qF '<port>8090</port>' &&
		avahi_file | grep -qF '<service protocol=\"ipv4\">' &&
		avahi_file | grep -qF '<name>MM1 &lt;rack&gt;</name>' &&
		[ \"\$(ct stat -c '%a %U' /etc/avahi/services/meso360.service)\" = '644 root' ]"
	ct systemctl stop meso360-web.service
	check "avahi: the service file is removed when the web daemon stops" eval "
		wait_for 15 'meso360-avahi inactive' unit_is meso360-avahi.service inactive &&
		! ct test -e /etc/avahi/services/meso360.service"
	set_conf listen 0.0.0.0:8080
	set_conf mdns_name ''
	ct systemctl start meso360-web.service
	check "avahi: back to port 8080 and the default name when the web daemon starts again" eval "
		wait_for 30 'meso360-avahi active' unit_is meso360-avahi.service active &&
		avahi_file | grep -qF '<port>8080</port>' &&
		avahi_file | grep -qF '<name replace-wildcards=\"yes\">meso360 on %h</name>'"
}

# The web daemon follows the units' states over D-Bus (systemd's change signals): a change shows in /api/status at
# once, also after systemd reloads or re-executes; a request never runs systemctl.
check_unit_states() {
	check "unit states: /api/status follows systemd over D-Bus (source dbus), sim active" \
		web unit-state meso360-sim.service active
	ct systemctl stop meso360-sim.service
	check "unit states: systemctl stop sim -> 'inactive' in /api/status within 3 s" \
		wait_for 3 "sim inactive" web unit-state meso360-sim.service inactive
	ct systemctl start meso360-sim.service
	check "unit states: systemctl start sim -> 'active' within 3 s" wait_for 3 "sim active" web unit-state meso360-sim.service active
	ct systemctl disable --quiet meso360-sim.service
	check "unit states: systemctl disable sim -> enabled false within 3 s" \
		wait_for 3 "sim disabled" web unit-state meso360-sim.service active --enabled no
	ct systemctl enable --quiet meso360-sim.service
	check "unit states: systemctl enable sim -> enabled true within 3 s" \
		wait_for 3 "sim enabled" web unit-state meso360-sim.service active --enabled yes
	ct systemctl daemon-reexec
	check "unit states: after systemctl daemon-reexec, followed over D-Bus again within 15 s" \
		wait_for 15 "dbus again" web unit-state meso360-sim.service active
	ct systemctl stop meso360-sim.service
	check "unit states: after the re-exec, systemctl stop sim -> 'inactive' within 3 s" \
		wait_for 3 "sim inactive" web unit-state meso360-sim.service inactive
	ct systemctl start meso360-sim.service
	check "unit states: no record lost over the simulator's stop and restart" progress_then_continuity 5
}

check_web() {
	local pid ssh_pid
	check_avahi_service
	check "web: active (READY), STATUS 'serving on 0.0.0.0:8080, N SSE clients, newest obs N s old'" \
		wait_for 15 "web STATUS with observations" web_status_ok
	log "web STATUS: $(prop $WEB StatusText)"
	check "web: systemd-analyze security $WEB scored above (summary)" eval '
		printf "%s\n" "${SCORES[@]}" | grep -q "^meso360-web.service [0-9.]*$"'
	check "web: GET /view, the dashboard (loads the packaged uPlot)" \
		web page /view '/static/vendor/uPlot.iife.min.js' '/static/dashboard.js'
	check "web: GET /, the control panel" web page / '/static/control.js' 'id="readonly-note"'
	check "web: GET /static/vendor/uPlot.iife.min.js, from the package" eval "
		web page /static/vendor/uPlot.iife.min.js uPlot &&
		ct test -s /usr/lib/python3/dist-packages/meso360/web/static/vendor/uPlot.iife.min.js"
	check "web: GET /favicon.ico, /manifest.webmanifest, an icon and units.js, from the package" eval "
		web page /favicon.ico PNG && web page /manifest.webmanifest '\"start_url\": \"/view\"' &&
		web page /static/icon-192.png PNG && web page /static/units.js Meso360Units"
	check "web: the track map's topojson-client and us-atlas counties, from the package" eval "
		web page /static/vendor/topojson-client.min.js topojson &&
		web page /static/vendor/us-atlas-counties-10m.json '\"counties\"' &&
		ct test -s /usr/lib/python3/dist-packages/meso360/web/static/vendor/us-atlas.LICENSE"
	check "web: GET /healthz answers ok" web page /healthz ok
	check "web: GET /api/status: the four units, ingest and web active, newest observation < 30 s old" \
		wait_for 15 "api/status with a fresh observation" web status
	check_unit_states
	log "web /api/status: $(web status 2>&1 || true)"
	check "web: GET /api/history: the simulator's rows in the live window" web history 10
	# The warmer starts once the reader has read the files, which may be after the checks above on a busy machine.
	check "web: the day-history warmer runs at lower priority (setpriority allowed by the unit's filter)" eval "
		wait_for 60 'the day-history warmer' eval \"ct journalctl --no-pager -o cat -u $WEB |
			grep -q 'day history of today and yesterday warmed'\" &&
		! ct journalctl --no-pager -o cat -u $WEB | grep 'keeps the normal priority'"
	check "web: GET /api/history/<day> of a full past day (86 400 rows -> <= 2000 points), read in two processes" \
		web past-day
	check "web: GET /api/log/stream?lines=5: 5 'event: log' journal entries with priorities" \
		web log-stream --lines 5 --timeout 10

	check_journal_rights

	check "web: no password: login and POST /api/control refused (403), the panel says read-only" web read-only

	check "web: meso360ctl passwd --password-stdin sets the hash, config still 0640 root:meso360" eval "
		set_web_password && ct grep -q '^password_hash = scrypt[$]' /etc/meso360/meso360.conf &&
		[ \"\$(ct stat -c '%a %U:%G' /etc/meso360/meso360.conf)\" = '640 root:meso360' ]"
	check "web: restarted with the password, active again" eval "
		ct systemctl restart $WEB && wait_for 15 'web STATUS' web_status_ok"
	check "web: a wrong password gets 401, no session" web_with_password wrong-password
	check "web: the failed login is in the log stream at priority warning" \
		web log-stream --lines 20 --timeout 10 --want 'failed control-panel login' --priority 4
	pid=$(prop meso360-ingest.service MainPID)
	check "web: login, POST /api/control restart ingest: 403 without X-CSRF-Token, 200 with it (polkit)" \
		web_with_password control restart ingest
	check "web: ingest restarted by the web API (MainPID $pid -> new) and active" eval "
		pid_changed meso360-ingest.service $pid && unit_is meso360-ingest.service active"
	check "web: no record lost or duplicated across the restart from the panel" progress_then_continuity 5

	check_web_unitfile

	# The polkit rule itself, as user meso360-web (the API only takes meso360 component names).
	check "polkit: polkitd running (D-Bus activated), the package's rule in /usr/share/polkit-1/rules.d" eval "
		unit_is polkit.service active && ct test -s /usr/share/polkit-1/rules.d/50-meso360.rules"
	ssh_pid=$(prop ssh.service MainPID)
	pid=$(prop meso360-sim.service MainPID)
	check "polkit: the ingest daemon's user may not restart meso360-sim.service (the rule is the web user's)" eval "
		denied as_ingest_user restart meso360-sim.service && [ \"\$(prop meso360-sim.service MainPID)\" = '$pid' ]"
	check "polkit: meso360-web may not restart ssh.service (not authorised, same MainPID)" eval "
		denied as_meso360 restart ssh.service && [ \"\$(prop ssh.service MainPID)\" = '$ssh_pid' ]"
	check "polkit: meso360-web may not kill meso360-sim.service (verb not granted)" \
		denied as_meso360 kill --signal=SIGCONT meso360-sim.service
	check "polkit: meso360-web may not enable a unit file (manage-unit-files not granted)" \
		denied as_meso360 enable meso360-sim.service
	pid=$(prop meso360-sim.service MainPID)
	check "polkit: meso360-web may restart meso360-sim.service (new MainPID, active)" eval "
		as_meso360 restart meso360-sim.service && pid_changed meso360-sim.service $pid &&
		wait_for 15 'sim active' unit_is meso360-sim.service active"
	check "web: the restarted simulator goes on as the same logger (state file), every record once" \
		progress_then_continuity 5

	# Back to no password (the state of a fresh install): read-only again.
	check "web: meso360ctl passwd --clear, restart: read-only again" eval "
		ct meso360ctl passwd --clear >/dev/null && ct systemctl restart $WEB && web read-only"
}

# The web user reads no journal itself; through the reader socket it gets the meso360 units' entries only.
JOURNAL_SOCKET_READ='import json, socket, sys, time
connection = socket.socket(socket.AF_UNIX)
connection.connect("/run/meso360-journal.sock")
connection.sendall(b"{\"lines\": 500}\n")
connection.settimeout(1)
data, deadline = b"", time.monotonic() + 5
while time.monotonic() < deadline:
    try:
        chunk = connection.recv(65536)
    except TimeoutError:
        continue
    if not chunk:
        break
    data += chunk
units = {json.loads(line).get("unit") for line in data.splitlines() if line.strip()}
print(" ".join(sorted(map(str, units))))
print("MARKER" if sys.argv[1].encode() in data else "no marker")'
journal_through_socket() { # journal_through_socket USER MARKER: the units (and whether MARKER came) as USER reads them
	ct runuser -u "$1" -- python3 -c "$JOURNAL_SOCKET_READ" "$2"
}
check_journal_rights() {
	local marker="e2e-not-meso360-$$" journal_units # not "output": check() has a local of that name
	ct logger -t e2e-other "$marker"
	check "journal: the web user reads nothing of the journal itself (not in systemd-journal)" eval "
		[ -z \"\$(ct runuser -u meso360-web -- journalctl -q --no-pager -n 20 2>/dev/null)\" ]"
	journal_units=$(journal_through_socket meso360-web "$marker" 2>&1) || true
	check "journal: the web user gets meso360 units' entries through the socket, and no other (${journal_units//$'\n'/; })" eval "
		grep -q 'meso360-ingest.service' <<<\"\$journal_units\" && grep -qx 'no marker' <<<\"\$journal_units\" &&
		! grep -Eq '(^| )(ssh|systemd-journald|init\.scope)' <<<\"\$journal_units\""
	check "journal: the ingest user may not connect to the reader socket" eval "
		! journal_through_socket meso360-ingest x >/dev/null 2>&1"
	# A closed browser is noticed at the web's next keep-alive write, then the reader sees its connection close.
	check "journal: the reader instances end with their connections (none left running)" wait_for 60 "no reader left" \
		eval "[ -z \"\$(ct systemctl list-units --plain --no-legend --state=active 'meso360-journal@*')\" ]"
}

# --- alarms: one evaluation in the web daemon, driven here by the simulator's outage ----------------

web_journal_since() { ct journalctl --no-pager -o cat -u meso360-web --since "@$1" "${@:2}"; }
check_alarms() {
	local since
	since=$(date +%s)
	check "alarms: GET /api/alarms answers, no 'stale' while the simulator runs" web alarms --absent stale
	check "alarms: the logger's battery voltage in /api/status (ingest's state/logger.json, read by the web user)" \
		wait_for 15 "battery voltage" web battery
	check "alarms: a 50 s logger outage (simulator fault)" web sim-fault outage 50
	check "alarms: 'stale' in /api/alarms within 40 s of the outage" wait_for 40 "stale alarm" web alarms --want stale
	check "alarms: meso360_alarm_active{name=\"stale\"} 1 in /metrics" web page /metrics 'meso360_alarm_active{name="stale"} 1'
	check "alarms: meso360ctl status exits 1 and shows the alarm with its fix" eval "
		output=\$(ct meso360ctl status 2>&1); status=\$?; echo \"\$output\" | tail -n 4
		[ \$status = 1 ] && grep -q 'ALARMS' <<<\"\$output\" && grep -q 'fix: ' <<<\"\$output\""
	check "alarms: the outage ends, rows resume: 'stale' cleared within 60 s" \
		wait_for 60 "stale cleared" web alarms --absent stale
	check "alarms: start logged once at warning, end once at notice" eval "
		[ \"\$(web_journal_since $since -p warning | grep -c 'alarm stale started')\" = 1 ] &&
		[ \"\$(web_journal_since $since -p notice | grep -c 'alarm stale ended')\" = 1 ]"
	check "alarms: no record lost over the outage (backfilled)" progress_then_continuity 5
}

# enable/disable from the panel: the web daemon starts meso360-unitfile@VERB-COMPONENT.service (root
# oneshot, allowed by the polkit rule), which runs `systemctl VERB meso360-COMPONENT.service`.
is_enabled() { [ "$(ct systemctl is-enabled "$1")" = "$2" ]; } # is_enabled UNIT enabled|disabled
no_unitfile_units() { [ -z "$(ct systemctl list-units --all --plain --no-legend 'meso360-unitfile@*')" ]; }
unitfile_refused() { # unitfile_refused COMMAND...: the instance enable-ssh refused, ssh.service unchanged
	local before output
	before=$(ct systemctl is-enabled ssh.service)
	output=$("$@" 2>&1) && { echo "allowed: $output"; return 1; }
	echo "$output"
	[ "$(ct systemctl is-enabled ssh.service)" = "$before" ]
}
web_control_fails_with() { # web_control_fails_with ACTION COMPONENT MESSAGE: ControlFailed, exactly MESSAGE...
	local output
	output=$(ct python3 -c "from meso360.web.systemd import Systemd; Systemd(False).control('$1', '$2')" 2>&1) &&
		{ echo "no failure: $output"; return 1; }
	output=$(grep '^meso360.web.systemd.ControlFailed: ' <<<"$output") && echo "$output" || return 1
	[ "${output#meso360.web.systemd.ControlFailed: }" != "${output#*$3}" ] && [ "$(grep -o 'refused' <<<"$output" | wc -l)" = 1 ]
}
check_web_unitfile() {
	local sim_pid since
	sim_pid=$(prop meso360-sim.service MainPID)
	check "web: POST /api/control disable sim (meso360-unitfile@disable-sim): meso360-sim.service disabled" eval "
		is_enabled meso360-sim.service enabled && web_with_password control disable sim &&
		is_enabled meso360-sim.service disabled"
	check "web: disable from the panel does not stop the unit (same MainPID, active)" eval "
		unit_is meso360-sim.service active && [ \"\$(prop meso360-sim.service MainPID)\" = '$sim_pid' ]"
	check "web: POST /api/control enable sim: meso360-sim.service enabled again" eval "
		web_with_password control enable sim && is_enabled meso360-sim.service enabled"
	check "web: the unitfile instances ran and are gone (CollectMode: no unit left loaded)" eval "
		ct journalctl --no-pager -o cat -u meso360-unitfile@enable-sim.service | grep -q 'systemctl enable meso360-sim.service' &&
		no_unitfile_units"
	since=$(date +%s)
	check "unitfile: root starting meso360-unitfile@enable-ssh.service fails, ssh.service unchanged" \
		unitfile_refused ct systemctl start meso360-unitfile@enable-ssh.service
	check "unitfile: root starting meso360-unitfile@disable-ssh.service fails, ssh.service still enabled" eval "
		unitfile_refused ct systemctl start meso360-unitfile@disable-ssh.service && is_enabled ssh.service enabled"
	# The web daemon's code path for a failing instance (the API itself only takes the four components).
	check "unitfile: a failing instance is reported with its journal message (meso360.web.systemd, as root)" \
		web_control_fails_with disable ssh \
		"systemctl start meso360-unitfile@disable-ssh.service failed (exit 1): meso360-unitfile: refused instance 'disable-ssh': it must be one of enable-ingest,"
	check "unitfile: the journal says why, at priority err; no failed unit left behind" eval "
		ct journalctl --no-pager -o cat -p err --since @$since -u meso360-unitfile@disable-ssh.service |
			grep -q \"refused instance 'disable-ssh'\" && no_unitfile_units"
	check "polkit: meso360-web may not start meso360-unitfile@enable-ssh.service (not in the rule)" \
		denied as_meso360 start meso360-unitfile@enable-ssh.service
	check "polkit: meso360-web may not start meso360-unitfile@disable-ssh.service, ssh.service still enabled" eval "
		denied as_meso360 start meso360-unitfile@disable-ssh.service && is_enabled ssh.service enabled"
	check "polkit: meso360-web may not stop/restart a unitfile instance (only start is granted)" \
		denied as_meso360 restart meso360-unitfile@enable-sim.service
}

check_upgrade() {
	local pid conf_sum rows rows_sum tunnel_pid
	# An offline vehicle with the tunnel configured: the unit never reports READY (activating);
	# the upgrade must neither hang on it nor leave the old daemon running.
	ct cp -p /etc/meso360/meso360.conf /root/meso360.conf.before-offline-tunnel
	ct sed -i "/^\[tunnel\]\$/a host = 127.0.0.1\\nport = $OFFLINE_BASTION_PORT\\nuser = $BASTION_USER\\nremote_port = $TUNNEL_REMOTE_PORT\\nconnect_timeout = 5\\nretry_max_delay = 2" \
		/etc/meso360/meso360.conf
	check "meso360ctl restart tunnel, bastion unreachable: returns at once, says the start is queued" eval "
		ct timeout 20 meso360ctl restart tunnel | grep -q 'requested; the tunnel reports ready once'"
	check "upgrade: tunnel configured, bastion unreachable: unit activating (no READY)" \
		wait_for 15 "tunnel activating" unit_is $TUNNEL activating
	tunnel_pid=$(prop $TUNNEL MainPID)
	pid=$(prop meso360-ingest.service MainPID)
	conf_sum=$(ct md5sum /etc/meso360/meso360.conf)
	rows=$(data_rows)
	rows_sum=$(rows_digest "$rows")
	check "upgrade: apt installs $UPGRADE_VERSION (offline: dependencies already there; no hang on the tunnel)" \
		ct timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold "/root/$(basename "$UPGRADE_DEB")"
	check "upgrade: version is $UPGRADE_VERSION" \
		eval "[ \"\$(ct dpkg-query -W -f '\${Version}' meso360)\" = '$UPGRADE_VERSION' ]"
	check "upgrade: the edited conffile is kept (new one as .dpkg-dist), still 0640 root:meso360" eval "
		[ \"\$(ct md5sum /etc/meso360/meso360.conf)\" = '$conf_sum' ] && ct test -e /etc/meso360/meso360.conf.dpkg-dist &&
		[ \"\$(ct stat -c '%a %U:%G' /etc/meso360/meso360.conf)\" = '640 root:meso360' ]"
	check "upgrade: ingest restarted (new MainPID) and active" eval "
		[ \"\$(ct systemctl show -P MainPID meso360-ingest.service)\" != '$pid' ] &&
		[ \"\$(ct systemctl show -P ActiveState meso360-ingest.service)\" = active ]"
	check "upgrade: the offline tunnel restarted without waiting (new MainPID), still retrying" eval "
		wait_for 15 'a new tunnel process' pid_changed $TUNNEL $tunnel_pid && unit_is $TUNNEL activating"
	ct cp -p /root/meso360.conf.before-offline-tunnel /etc/meso360/meso360.conf
	ct systemctl stop $TUNNEL
	check "upgrade: the enabled simulator is running" unit_is meso360-sim.service active
	check "upgrade: the $rows rows written before are unchanged" eval '[ "$(rows_digest "$rows")" = "$rows_sum" ]'
	# The simulator was restarted too: it keeps its state (signature, record numbers, clock), so it goes
	# on as the same logger and ingest backfills the records it produced meanwhile.
	check "upgrade: the restarted simulator goes on as the same logger, every record once" \
		progress_then_continuity 5
}

check_remove_purge() {
	local data_sum
	ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q meso360 >/dev/null
	check "remove: daemons stopped" eval "
		for unit in meso360-ingest.service meso360-sim.service; do
			[ \"\$(ct systemctl show -P ActiveState \$unit)\" = inactive ] || exit 1; done"
	check "remove: config kept" ct test -e /etc/meso360/meso360.conf
	check "remove: no avahi announcement left" eval "! ct test -e /etc/avahi/services/meso360.service"
	data_sum=$(ct sh -c 'cd /var/lib/meso360 && cat data/* support/* 2>/dev/null | md5sum')
	ct env DEBIAN_FRONTEND=noninteractive dpkg --purge meso360 >/dev/null
	check "purge: /etc/meso360, /var/lib/meso360/state and the simulator's state removed" \
		ct sh -c '! test -e /etc/meso360 && ! test -e /var/lib/meso360/state && ! test -e /var/lib/private/meso360-sim'
	check "purge: collected data and support files kept, unchanged" eval "
		[ \"\$(ct sh -c 'cd /var/lib/meso360 && cat data/* support/* 2>/dev/null | md5sum')\" = '$data_sum' ] &&
		[ \$(ct sh -c 'ls /var/lib/meso360/data | wc -l') -ge 1 ]"
}

# --- upgrade from the previous package: one user (meso360) for all daemons --------------------------

# The package at MESO360_E2E_PREVIOUS_REF (a git commit of this repository), built once and cached.
build_previous_deb() {
	local commit dir
	commit=$(git -C "$REPO" rev-parse --verify "$PREVIOUS_REF^{commit}") || return 1
	PREVIOUS_DEB=$CACHE/previous/meso360_${commit:0:12}_all.deb
	[ -e "$PREVIOUS_DEB" ] && return 0
	dir=$WORK/previous
	mkdir -p "$dir/src" "$CACHE/previous"
	git -C "$REPO" archive "$commit" | tar -x -C "$dir/src"
	cp -a "$REPO/meso360/web/static/vendor" "$dir/src/meso360/web/static/" # fetched at build time (make assets)
	# Its Build-Depends name the libraries it used then (python3-cheroot, which its build runs for the man pages):
	# make deps installs only today's, so a machine building it for the first time installs them here.
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q "$dir/src" >"$WORK/previous-build.log" 2>&1 ||
		{ tail -n 20 "$WORK/previous-build.log"; PREVIOUS_DEB=; return 1; }
	(cd "$dir/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -b -us -uc -Pnocheck) >>"$WORK/previous-build.log" 2>&1 ||
		{ tail -n 20 "$WORK/previous-build.log"; PREVIOUS_DEB=; return 1; }
	cp "$dir"/meso360_*_all.deb "$PREVIOUS_DEB.tmp" && mv "$PREVIOUS_DEB.tmp" "$PREVIOUS_DEB"
}

no_file_of_the_old_user() { # nothing in the data, state or config is owned by user meso360 any more
	local left
	left=$(ct find /var/lib/meso360 /etc/meso360 -xdev -user meso360)
	echo "${left:-none left}"
	[ -z "$left" ]
}

check_upgrade_from_single_user() {
	local previous rows
	if [ -z "${PREVIOUS_DEB:-}" ]; then
		skip "upgrade from the previous package (one user for all daemons): no previous package: NOT TESTED"
		return
	fi
	previous=/root/$(basename "$PREVIOUS_DEB")
	check "previous package: apt installs $(basename "$PREVIOUS_DEB") (after the purge)" \
		ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$previous"
	set_conf logger_url "$SIM_URL"
	ct sed -i "/^\[tunnel\]\$/a remote_port = $TUNNEL_REMOTE_PORT" /etc/meso360/meso360.conf
	ct systemctl enable --quiet --now meso360-sim.service
	ct systemctl restart meso360.target
	rows=$(data_rows)
	check "previous package: ingest (user meso360) collects again" \
		wait_for 60 "rows from the previous package" rows_at_least $((rows + 5))
	ct meso360ctl tunnel keygen >/dev/null 2>&1 || true
	check "previous package: data and tunnel key owned by user meso360, a member of systemd-journal" eval "
		[ \"\$(ct stat -c %U $(today_file) /etc/meso360/tunnel_key | sort -u)\" = meso360 ] &&
		ct id -nG meso360 | grep -qw systemd-journal"
	check "upgrade from the previous package: apt installs $UPGRADE_VERSION" \
		ct timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold "/root/$(basename "$UPGRADE_DEB")"
	check "upgrade from the previous package: no file of user meso360 left in /var/lib/meso360 and /etc/meso360" \
		no_file_of_the_old_user
	check "upgrade from the previous package: its packaged avahi file (fixed port 8080) is no longer a conffile, no leftover" eval "
		! ct dpkg-query -W -f '\${Conffiles}\n' meso360 | grep -v ' obsolete\$' | grep -q /etc/avahi/services/ &&
		! ct sh -c 'ls /etc/avahi/services/meso360.service.dpkg-* 2>/dev/null | grep -q .'"
	check "upgrade from the previous package: data meso360-ingest's, tunnel key meso360-tunnel's (0600)" eval "
		[ \"\$(ct stat -c '%U:%G' $(today_file))\" = meso360-ingest:meso360 ] &&
		[ \"\$(ct stat -c '%U %a' /etc/meso360/tunnel_key)\" = 'meso360-tunnel 600' ] &&
		! ct runuser -u meso360-web -g meso360 -G systemd-journal -- cat /etc/meso360/tunnel_key 2>/dev/null"
	check "upgrade from the previous package: user meso360 no longer in systemd-journal" eval "
		! ct id -nG meso360 | grep -qw systemd-journal"
	check "upgrade from the previous package: ingest and web active, meso360ctl status exit 0" eval "
		wait_for 30 'ingest active' unit_is meso360-ingest.service active &&
		wait_for 15 'web STATUS' web_status_ok && wait_for 20 'meso360ctl status exit 0' ct meso360ctl status"
	check "upgrade from the previous package: the restarted simulator's sequence collected from its first record, once each" \
		progress_then_continuity 5 --new-sequence
}

# --- main ---------------------------------------------------------------------------------------

main() {
	[ "$(id -u)" = 0 ] || { echo "scripts/e2e.sh: needs root (debootstrap, systemd-nspawn)" >&2; exit 2; }
	if [ -n "${MESO360_E2E_DEB:-}" ]; then
		DEB=$(realpath "$MESO360_E2E_DEB")
	else
		log "building the package (make deb)"
		make -C "$REPO" --no-print-directory deb >&2
		DEB=$REPO/dist/meso360_$(dpkg-parsechangelog -l "$REPO/debian/changelog" -SVersion)_all.deb
	fi
	log "package under test: $DEB"
	PREVIOUS_DEB=
	PREVIOUS_REF=${MESO360_E2E_PREVIOUS_REF:-}
	if [ -n "${MESO360_E2E_PREVIOUS_DEB:-}" ]; then
		PREVIOUS_DEB=$(realpath "$MESO360_E2E_PREVIOUS_DEB")
	elif [ -n "$PREVIOUS_REF" ]; then
		log "building the previous package ($PREVIOUS_REF, cached in $CACHE/previous)"
		build_previous_deb || fail "previous package: built from $PREVIOUS_REF" "see the log above"
	fi
	make_upgrade_deb
	log "preparing the container root"
	prepare_root
	log "make deps in a fresh copy of the root, then dpkg-checkbuilddeps"
	check_make_deps
	log "installing the package with apt (network: host, not booted)"
	if install_package; then pass "install: apt-get install ./$(basename "$DEB") into Debian 12"; else
		tail -n 30 "$WORK/install.log"
		fail "install: apt-get install ./$(basename "$DEB")" "see the log above"
		return 1
	fi
	cp "$REPO/tests/system/continuity.py" "$REPO/tests/system/webcheck.py" "$ROOT/root/"
	# As a Debian install has it (debootstrap writes none): the bastion sshd resolves "localhost"
	# for the tunnel's probe (permitopen="localhost:PORT").
	[ -e "$ROOT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
	log "booting the container (systemd-nspawn --boot --private-network)"
	if ! boot; then
		tail -n 30 "$WORK/console.log"
		# What is still pending, and the meso360 units' state, so a stalled boot can be diagnosed.
		ct systemctl list-jobs --no-pager 2>&1 | head -n 20 || true
		ct systemctl status --no-pager --lines=5 'meso360-*' 2>&1 | head -n 60 || true
		fail "boot: systemd reaches running/degraded" "see the console, jobs and units above"
		return 1
	fi
	pass "boot: systemd is $(ct systemctl is-system-running || true)"
	SCORES=()
	log "package state";               check_package_state
	log "state after boot";            check_boot_state
	log "switch ingest to the simulator"; check_simulator_switch
	log "kill -9 ingest";              check_crash_restart
	log "kill -STOP ingest (watchdog)"; check_watchdog
	log "meso360ctl";                  check_meso360ctl
	log "reverse tunnel";              check_tunnel
	log "broken config";               check_config_error
	log "web: pages, API, control through polkit, journal"; check_web
	log "alarms";                      check_alarms
	log "upgrade";                     check_upgrade
	log "remove and purge";            check_remove_purge
	log "upgrade from the previous package"; check_upgrade_from_single_user
	echo
	echo "systemd-analyze security (overall exposure):"
	printf '  %s\n' "${SCORES[@]}"
}

status=0
main || status=$?
stop_container
summary
if ((status == 0 && FAILURES == 0)); then exit 0; else exit 1; fi
