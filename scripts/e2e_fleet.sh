#!/bin/bash
# End-to-end test of a fleet: one base and three vehicles, each a booted Debian 12 container (make e2e-fleet; root).
#
# Roots: the Debian 12 root of scripts/e2e.sh (debootstrap, cached in $CACHE/base), plus each package's Debian
# dependencies installed with apt (cached per dependency list in $CACHE/fleet/), then per run the .deb itself
# installed with apt, with the host's network, before any boot (both packages at once): the vehicle root (meso360,
# openssh-server, the package's simulator meso360-sim as its logger) as MM1, MM2, MM3, and the base root
# (meso360-base, which pulls Prometheus, Alertmanager, the node exporter and rsync; openssh-server as the bastion).
# Each root is an overlay mount (the cached root read-only below, this run's changes above), not a copy.
# Network: only among these containers. Each boots in its own network namespace made here (ip netns), whose one
# veth is bridged in a fifth namespace: 10.99.0.0/24, no default route, no NAT, nothing on the host's interfaces;
# the shipped logger address (192.168.4.6) is replaced by the simulator's before the first boot.
# Each vehicle tunnels to the base's sshd (its own remote_port and remote_web_port, meso360ctl tunnel keygen and
# trust) and lets base read its files (meso360ctl fleet authorize with /etc/meso360-base/id_ed25519.pub). Base:
# fleet.conf listing MM1..MM3, meso360-base-apply (sync timers, Prometheus targets).
# Proves: every vehicle's files arrive at base byte-identical within 2 minutes; MM3's tunnel down for 5 minutes,
# then back: it catches up, every GPS second once; Prometheus shows every vehicle up (and MM3 unreachable while
# down); stopping MM2's simulator fires NoNewObservation for MM2 alone within 2 minutes (Prometheus's ALERTS; and
# in Alertmanager), and the fleet page in headless Chromium shows MM2 in alarm (both during MM3's outage, which
# the test spends checking); `meso360ctl fleet status` on base shows all three; at the end, ingest stopped, every
# file at base, QC sidecars included, is byte-identical with the vehicle's. PASS/FAIL per check, exit 1 on any FAIL.
#
# Environment: MESO360_E2E_DEB       the vehicle .deb (default: dist/meso360_<version>_all.deb)
#              MESO360_E2E_BASE_DEB  the base .deb (default: dist/meso360-base_<version>_all.deb)
#              MESO360_E2E_CACHE     Debian root and apt download cache (default /var/cache/meso360-e2e)
#              MESO360_FLEET_OUTAGE  seconds of MM3's tunnel outage (default 300)
#              MESO360_E2E_KEEP=1    keep the work directory (the roots' upper layers, consoles, install logs)
#              MESO360_E2E_PYTHON    the python with Playwright for the fleet page (default: the checkout's .venv)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MESO360_E2E_CACHE:-/var/cache/meso360-e2e}
MIRROR=http://deb.debian.org/debian
BASE_MARK=.meso360-e2e-base-complete
OUTAGE=${MESO360_FLEET_OUTAGE:-300}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8

WORK=$(mktemp -d /var/tmp/meso360-e2e-fleet.XXXXXX)
VEHICLES=(MM1 MM2 MM3)
NODES=(base "${VEHICLES[@]}")
NET=m360f$$                   # the network namespaces: $NET-bridge, $NET-base, $NET-MM1, ...
SUBNET=10.99.0
declare -A ADDRESS=([base]=$SUBNET.1 [MM1]=$SUBNET.11 [MM2]=$SUBNET.12 [MM3]=$SUBNET.13)
declare -A SSH_PORT=([MM1]=2201 [MM2]=2202 [MM3]=2203)  # [tunnel] remote_port = fleet.conf ssh_port
declare -A WEB_PORT=([MM1]=8201 [MM2]=8202 [MM3]=8203)  # [tunnel] remote_web_port = fleet.conf web_port
declare -A NSPAWN_PID=() INIT_PID=()
NETNS_MADE=()
MOUNTS=()                     # the overlay roots, unmounted at exit
PYTHON=${MESO360_E2E_PYTHON:-$REPO/.venv/bin/python}
BASTION_USER=bastion
E2E_NAME=e2e-fleet
# shellcheck source=scripts/e2e_lib.sh
. "$REPO/scripts/e2e_lib.sh" # log, pass, fail, check, wait_for, summary

# --- reporting (scripts/e2e_lib.sh), and what the containers say after a failure --------------------------

# journal_after_failure: the meso360 units' states and last lines in every booted container, for CI's log.
journal_after_failure() {
	local node
	for node in "${NODES[@]}"; do
		[ -n "${INIT_PID[$node]:-}" ] && kill -0 "${INIT_PID[$node]}" 2>/dev/null || continue
		ct "$node" systemctl list-units --all --plain --no-legend 'meso360*' 2>&1 | sed "s/^/   $node unit| /" >&2
		ct "$node" journalctl --no-pager -n 15 -o short-monotonic -u 'meso360*' 2>&1 | sed "s/^/$node journal| /" >&2
	done
}

# --- the containers -------------------------------------------------------------------------------

# ct NODE COMMAND...: run COMMAND inside the booted container NODE (all its namespaces), clean environment.
ct() {
	local node=$1
	shift
	nsenter -t "${INIT_PID[$node]}" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"
}
prop() { ct "$1" systemctl show -P "$3" "$2"; } # prop NODE UNIT PROPERTY
unit_is() { [ "$(prop "$1" "$2" ActiveState)" = "$3" ]; } # unit_is NODE UNIT STATE

stop_container() {
	local node=$1 pid=${NSPAWN_PID[$1]:-}
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" # systemd-nspawn asks the container's systemd to power off
		wait_for 30 "$node power-off" sh -c "! kill -0 $pid" || {
			kill -KILL "$pid" 2>/dev/null || true
			[ -z "${INIT_PID[$node]:-}" ] || kill -KILL "${INIT_PID[$node]}" 2>/dev/null || true
		}
	fi
	wait "$pid" 2>/dev/null || true
	NSPAWN_PID[$node]=
}

cleanup() {
	local status=$? node netns
	for node in "${NODES[@]}"; do stop_container "$node"; done
	for mount in "${MOUNTS[@]}"; do umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || true; done
	# Deleting a namespace that no process holds any more deletes its veth end, and so the pair.
	for netns in "${NETNS_MADE[@]}"; do ip netns del "$netns" 2>/dev/null || true; done
	if [ "${MESO360_E2E_KEEP:-}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The network: namespace $NET-bridge holds bridge br0; each node's namespace one veth (eth0) whose peer is a
# port of br0. Created with `ip -n`, so no interface ever exists in the host's namespace. No default route.
make_network() {
	local node netns index=0
	ip netns add "$NET-bridge" && NETNS_MADE+=("$NET-bridge")
	ip -n "$NET-bridge" link add br0 type bridge
	ip -n "$NET-bridge" link set br0 up
	for node in "${NODES[@]}"; do
		netns=$NET-$node
		ip netns add "$netns" && NETNS_MADE+=("$netns")
		ip -n "$NET-bridge" link add "v$index" type veth peer name eth0 netns "$netns"
		ip -n "$NET-bridge" link set "v$index" master br0 up
		ip -n "$netns" link set lo up
		ip -n "$netns" addr add "${ADDRESS[$node]}/24" dev eth0
		ip -n "$netns" link set eth0 up
		index=$((index + 1))
	done
}
no_route_out() { # no_route_out NODE: the only routes are the subnet's (and loopback's)
	local routes
	routes=$(ip -n "$NET-$1" route show table all | grep -v -e "^$SUBNET.0/24 " -e ' dev lo ' -e '^local ' -e '^broadcast ' -e '^fe80::' -e '^multicast ' -e '^anycast ' || true)
	echo "routes: ${routes:-none beyond $SUBNET.0/24}"
	[ -z "$routes" ] && ! ip -n "$NET-$1" route get 192.168.4.6 >/dev/null 2>&1
}

# The container's systemd: systemd-nspawn's child once it is systemd (before, a short-lived helper of nspawn's may be
# its child; a pid taken then is gone a moment later).
find_init() {
	INIT_PID[$1]=$(pgrep -P "${NSPAWN_PID[$1]}" | head -n 1) && [ -n "${INIT_PID[$1]}" ] &&
		[ "$(cat "/proc/${INIT_PID[$1]}/comm" 2>/dev/null)" = systemd ]
}
system_up() {
	local state
	state=$(ct "$1" systemctl is-system-running 2>/dev/null) || true
	[ "$state" = running ] || [ "$state" = degraded ]
}
no_jobs() { [ -z "$(ct "$1" systemctl list-jobs --no-legend)" ]; }
start_boot() { # start_boot NODE: boot the root $WORK/NODE in the network namespace $NET-NODE
	systemd-nspawn -q -D "$WORK/$1" --boot --network-namespace-path="/run/netns/$NET-$1" --register=no --keep-unit \
		--console=read-only >"$WORK/console-$1.log" 2>&1 </dev/null &
	NSPAWN_PID[$1]=$!
}
boot_all() {
	local node ok=0
	for node in "${NODES[@]}"; do start_boot "$node"; done
	for node in "${NODES[@]}"; do
		if wait_for 30 "$node's init process" find_init "$node" && wait_for 180 "$node: running or degraded" system_up "$node" &&
			wait_for 30 "$node: no job left" no_jobs "$node"; then
			pass "boot: $node is $(ct "$node" systemctl is-system-running || true)"
			# degraded: which unit failed and why, for CI's log (a failed systemd-user-sessions leaves /run/nologin,
			# and sshd then refuses the base's logins)
			if [ "$(ct "$node" systemctl is-system-running || true)" = degraded ]; then
				ct "$node" systemctl --failed --no-legend --plain 2>&1 | sed "s/^/   $node failed unit| /" >&2 || true
				ct "$node" journalctl -b -p err --no-pager -n 20 2>&1 | sed "s/^/   $node error| /" >&2 || true
				ct "$node" sh -c 'test ! -e /run/nologin || echo "/run/nologin present"' 2>&1 | sed "s/^/   $node| /" >&2 || true
			fi
		else
			tail -n 20 "$WORK/console-$node.log"
			log "$node: init pid ${INIT_PID[$node]:-none}, is-system-running: $(ct "$node" systemctl is-system-running 2>&1)"
			ct "$node" systemctl list-jobs --no-pager 2>&1 | head -n 20 >&2 || true
			fail "boot: $node reaches running/degraded" "see its console above"
			ok=1
		fi
	done
	return $ok
}

# --- the roots ------------------------------------------------------------------------------------

# Debian 12 minbase + systemd, as scripts/e2e.sh builds it (the same cache and lock).
prepare_debian_root() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
	if [ ! -e "$CACHE/base/$BASE_MARK" ]; then
		log "building the Debian 12 root with debootstrap (cached in $CACHE/base)"
		rm -rf "$CACHE/base" "$CACHE/base.tmp"
		debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$CACHE/base.tmp" "$MIRROR" \
			>"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log"; exit 1; }
		touch "$CACHE/base.tmp/$BASE_MARK"
		mv "$CACHE/base.tmp" "$CACHE/base"
	fi
	flock -u 9
	exec 9>&-
}

# A package's Depends as plain names (alternatives: the first).
depends_of() {
	dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/ //g' |
		grep -vx '' | sort -u | tr '\n' ' '
}

# in_root ROOT COMMAND: run a shell command in ROOT, not booted, with the host's network and apt's cache.
in_root() {
	systemd-nspawn -q -D "$1" --register=no --keep-unit --pipe \
		--bind="$CACHE/apt-archives:/var/cache/apt/archives" -E DEBIAN_FRONTEND=noninteractive /bin/sh -c "$2" </dev/null
}

# overlay MERGED LOWER...: mount MERGED as an overlay of the read-only LOWER directories (the first on top), with
# its own writable layer $WORK/layers/<name of MERGED>: a root for this run without copying the cached one.
overlay() {
	local merged=$1 layer
	shift
	layer=$WORK/layers/$(basename "$merged")
	mkdir -p "$merged" "$layer/upper" "$layer/work"
	mount -t overlay overlay -o "lowerdir=$(IFS=:; echo "$*"),upperdir=$layer/upper,workdir=$layer/work" "$merged" &&
		MOUNTS+=("$merged")
}

# deps_root KIND DEB TARGET EXTRA...: the Debian root with DEB's dependencies and EXTRA installed by apt, cached per
# that list in $CACHE/fleet/KIND-<hash> (older ones of KIND removed); mounted at TARGET (overlay). The cached root
# stays locked (shared) until this script ends: another run's rebuild of KIND waits rather than remove it.
declare -A CACHED_ROOT=()
deps_root() {
	local kind=$1 deb=$2 target=$3 packages key dir lock
	shift 3
	packages="$(depends_of "$deb") $*"
	key=$(printf '%s\n' "$packages" "$(stat -c %Y "$CACHE/base/$BASE_MARK")" | sha256sum | cut -c 1-16)
	dir=$CACHE/fleet/$kind-$key
	mkdir -p "$CACHE/fleet" "$CACHE/apt-archives/partial"
	exec {lock}>"$CACHE/fleet/lock-$kind"
	flock "$lock"
	if [ ! -e "$dir/.complete" ]; then
		log "$kind root: apt installs the dependencies ($packages), cached in $dir"
		rm -rf "$dir.tmp" "$CACHE/fleet/$kind-"*
		cp -a "$CACHE/base" "$dir.tmp"
		local waited=0
		until in_root "$dir.tmp" "apt-get update -qq && apt-get install -y -q --no-install-recommends $packages" \
			>"$WORK/deps-$kind.log" 2>&1; do
			# scripts/e2e.sh shares the download cache: while its apt holds the cache's lock, wait (10 min at most).
			if grep -q 'Could not get lock /var/cache/apt/archives/lock' "$WORK/deps-$kind.log" && ((waited < 600)); then
				((waited == 0)) && log "$kind root: another apt holds the download cache's lock; waiting"
				sleep 5
				waited=$((waited + 5))
				continue
			fi
			tail -n 20 "$WORK/deps-$kind.log"
			flock -u "$lock"
			return 1
		done
		touch "$dir.tmp/.complete"
		mv "$dir.tmp" "$dir"
	fi
	flock -s "$lock" # held (the descriptor stays open) until the script exits
	CACHED_ROOT[$kind]=$dir
	overlay "$target" "$dir" && rm -f "$target/.complete"
}

# install_deb KIND DEB ROOT: apt installs DEB into ROOT (not booted, with the host's network). Nothing to download
# (deps_root installed the dependencies), so no shared apt cache: both packages install at once.
install_deb() {
	cp "$2" "$3/root/"
	systemd-nspawn -q -D "$3" --register=no --keep-unit --pipe -E DEBIAN_FRONTEND=noninteractive /bin/sh -c \
		"apt-get install -y -q --no-install-recommends /root/$(basename "$2")" </dev/null >"$WORK/install-$1.log" 2>&1
}

# The vehicle root before its copies: the simulator enabled (it starts with meso360.target), ingest pointed at it.
prepare_vehicle_root() {
	local root=$WORK/vehicle-root
	systemctl --root="$root" --quiet enable meso360-sim.service
	sed -i "/^\[ingest\]\$/a logger_url = http://127.0.0.1:8081" "$root/etc/meso360/meso360.conf"
	cp "$REPO/tests/system/continuity.py" "$root/root/"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
}

# Each vehicle is its own machine, an overlay of the vehicle root: machine-id, sshd host keys, vehicle name.
make_vehicle() {
	local vehicle=$1 root=$WORK/$1
	overlay "$root" "$WORK/layers/vehicle-root/upper" "${CACHED_ROOT[vehicle]}"
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
	rm -f "$root"/etc/ssh/ssh_host_*
	mkdir -p "$root/etc/ssh"
	ssh-keygen -q -A -f "$root" >/dev/null
	sed -i "/^\[meso360\]\$/a vehicle = $vehicle" "$root/etc/meso360/meso360.conf"
}

# The base: the bastion's sshd (Debian's ssh.service) with the user the tunnels log in as; Debian's own Prometheus
# and node exporter (:9090, :9100) disabled: meso360-base runs its own instances (the two CPU cores are shared).
prepare_base_root() {
	local root=$WORK/base
	useradd --root "$root" --system --no-create-home --shell /bin/sh --password '*' $BASTION_USER
	mkdir -p -m 0755 "$root/etc/ssh/authorized_keys"
	cat >"$root/etc/ssh/sshd_config.d/meso360-bastion.conf" <<-EOF
		# e2e-fleet: the vehicles' tunnel keys (restrict, permitlisten/permitopen their ports), root's files.
		AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys/%u
		ClientAliveInterval 15
		ClientAliveCountMax 3
	EOF
	systemctl --root="$root" --quiet disable prometheus.service prometheus-node-exporter.service
	cp "$REPO/tests/system/promquery.py" "$root/root/"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
}

# --- set-up of the fleet, after boot --------------------------------------------------------------

set_tunnel_conf() { # the [tunnel] keys right under the section header; small intervals for the test
	local vehicle=$1
	ct "$vehicle" sed -i "/^\[tunnel\]\$/a host = ${ADDRESS[base]}\\nport = 22\\nuser = $BASTION_USER\\nremote_port = ${SSH_PORT[$vehicle]}\\nremote_web_port = ${WEB_PORT[$vehicle]}\\nkeepalive_interval = 5\\nprobe_interval = 10\\nconnect_timeout = 5\\nretry_max_delay = 5" \
		/etc/meso360/meso360.conf
}
tunnel_json() { ct "$1" cat /var/lib/meso360/state/tunnel/tunnel.json; }
tunnel_up() { # state up, verified, and the web forward verified
	local json
	json=$(tunnel_json "$1") || return 1
	python3 -c 'import json, sys; d = json.loads(sys.argv[1])
sys.exit(not (d["state"] == "up" and (d.get("web_forward") or {}).get("state") == "verified"))' "$json"
}

# tunnel_comes_up VEHICLE: the tunnel is up; a unit not (or no more) starting is started again. READY comes once the
# forward is verified (--no-block). Seen once: a restart issued as the boot's own start (skipped, no host yet) was
# ending left the unit inactive, with no second start.
tunnel_comes_up() {
	if unit_is "$1" meso360-tunnel.service inactive || unit_is "$1" meso360-tunnel.service failed; then
		log "$1: meso360-tunnel.service $(prop "$1" meso360-tunnel.service ActiveState): starting it"
		ct "$1" systemctl reset-failed meso360-tunnel.service 2>/dev/null || true
		ct "$1" systemctl start --no-block meso360-tunnel.service >&2 || true
	fi
	tunnel_up "$1"
}

setup_tunnels() {
	local vehicle line lines=""
	for vehicle in "${VEHICLES[@]}"; do
		set_tunnel_conf "$vehicle"
		line=$(ct "$vehicle" meso360ctl tunnel keygen 2>&1 | grep '^restrict,') || true
		check "$vehicle: meso360ctl tunnel keygen prints the bastion line for ports ${SSH_PORT[$vehicle]} and ${WEB_PORT[$vehicle]}" eval "
			grep -qF 'permitlisten=\"localhost:${SSH_PORT[$vehicle]}\"' <<<\"\$line\" &&
			grep -qF 'permitlisten=\"localhost:${WEB_PORT[$vehicle]}\"' <<<\"\$line\""
		lines+="$line"$'\n'
	done
	printf '%s' "$lines" | ct base tee /etc/ssh/authorized_keys/$BASTION_USER >/dev/null
	for vehicle in "${VEHICLES[@]}"; do
		check "$vehicle: meso360ctl tunnel trust ${ADDRESS[base]} --yes pins the base's sshd host key" eval "
			ct $vehicle meso360ctl tunnel trust ${ADDRESS[base]} --port 22 --yes &&
			ct $vehicle grep -qF \"\$(ct base awk '{print \$1, \$2}' /etc/ssh/ssh_host_ed25519_key.pub)\" /etc/meso360/known_hosts"
		ct "$vehicle" systemctl restart --no-block meso360-tunnel.service >&2 || true
	done
	for vehicle in "${VEHICLES[@]}"; do
		check "$vehicle: tunnel up, its sshd and web forwards verified (bastion ports ${SSH_PORT[$vehicle]}, ${WEB_PORT[$vehicle]})" \
			wait_for 60 "$vehicle tunnel up" tunnel_comes_up "$vehicle"
	done
}

setup_fleet_access() {
	local vehicle
	ct base cat /etc/meso360-base/id_ed25519.pub >"$WORK/base.pub"
	for vehicle in "${VEHICLES[@]}"; do
		cp "$WORK/base.pub" "$WORK/$vehicle/root/base.pub"
		check "$vehicle: meso360ctl fleet authorize with the base's /etc/meso360-base/id_ed25519.pub" eval "
			ct $vehicle meso360ctl fleet authorize /root/base.pub &&
			ct $vehicle grep -qF \"\$(awk '{print \$2}' $WORK/base.pub)\" /var/lib/meso360-fleet/.ssh/authorized_keys"
	done
}

write_fleet_conf() {
	local vehicle
	{
		printf '# e2e-fleet: the three vehicles, through their tunnels to this bastion.\n[base]\n'
		for vehicle in "${VEHICLES[@]}"; do
			printf '\n[vehicle %s]\nssh_port = %s\nweb_port = %s\nhost_key = %s\n' "$vehicle" "${SSH_PORT[$vehicle]}" \
				"${WEB_PORT[$vehicle]}" "$(ct "$vehicle" awk '{print $1, $2}' /etc/ssh/ssh_host_ed25519_key.pub)"
		done
	} | ct base tee /etc/meso360-base/fleet.conf >/dev/null
}

# --- checks ---------------------------------------------------------------------------------------

base_copy() { echo "$WORK/base/var/lib/meso360-base/$1"; }
files() { python3 "$REPO/tests/system/fleetfiles.py" "$@"; }
sizes_of() { files sizes "$WORK/$1"; }
files_equal() { files compare "$WORK/$1" "$(base_copy "$1")" --at-least "${2:-"{}"}"; } # files_equal VEHICLE [SIZES]
promq() { ct base python3 /root/promquery.py query "$1"; }
# vehicles_where EXPR: the vehicles with a sample of EXPR, one line "MM1 MM2" (sorted)
vehicles_where() { promq "$1" | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//'; }
vehicles_are() { [ "$(vehicles_where "$1")" = "$2" ]; } # vehicles_are EXPR "MM1 MM2"
firing() { vehicles_where "ALERTS{alertname=\"$1\",alertstate=\"firing\"}"; }
firing_is() { [ "$(firing "$1")" = "$2" ]; } # firing_is ALERTNAME "MM2"
alertmanager_has() { ct base python3 /root/promquery.py alertmanager | grep -qx "$1 $2"; }
all_up() { vehicles_are 'up{job="vehicles"} == 1' "${VEHICLES[*]}"; }
unit_is_active() { unit_is "$1" "$2" active; }

# fleet_page VEHICLE=STATE[,STATE]...: the fleet page (meso360-base-web, the base's 127.0.0.1:8090) in headless
# Chromium, the host's (Playwright from the checkout's .venv, tests/system/fleetpage.py) run in the base container's
# network namespace alone: its loopback is the base's, and nothing beyond the private bridge can be reached.
fleet_page() {
	nsenter --net="/proc/${INIT_PID[base]}/ns/net" "$PYTHON" "$REPO/tests/system/fleetpage.py" http://127.0.0.1:8090 \
		"$@" --screenshot e2e-fleet-page
}

# every vehicle's files at base, byte-identical prefix, not shorter than the sizes taken at the start
all_arrived() {
	local vehicle
	for vehicle in "${VEHICLES[@]}"; do files_equal "$vehicle" "${START_SIZES[$vehicle]}" || return 1; done
}
fleet_status_all_well() {
	local out rc=0 vehicle
	out=$(ct base meso360ctl fleet status) || rc=$?
	echo "$out"
	[ $rc = 0 ] || return 1
	for vehicle in "${VEHICLES[@]}"; do grep -Eq "^$vehicle +[0-9].* ago +0 +up " <<<"$out" || return 1; done
}
fleet_status_shows_down() { # fleet_status_shows_down VEHICLE: exit 1, VEHICLE down/failing, the others up
	local out rc=0 vehicle
	out=$(ct base meso360ctl fleet status) || rc=$?
	echo "$out"
	[ $rc = 1 ] && grep -Eq "^$1 .*down" <<<"$out" || return 1
	for vehicle in "${VEHICLES[@]}"; do
		[ "$vehicle" = "$1" ] || grep -Eq "^$vehicle +[0-9].* ago +0 +up " <<<"$out" || return 1
	done
}
synced_after() { # synced_after VEHICLE EPOCH: a sync of VEHICLE that started after EPOCH has ended, successfully
	local unit=meso360-base-sync@$1.service started
	started=$(ct base systemctl show --timestamp=unix -P ExecMainStartTimestamp "$unit")
	[ -n "$started" ] && ((${started#@} > $2)) && unit_is base "$unit" inactive &&
		[ "$(prop base "$unit" Result)" = success ]
}
# sync_now VEHICLE...: run each vehicle's sync unit, all at once, in a run that starts after now. A start while the
# timer's run is going waits for that run (which may have started before now), so start twice: the second start
# runs the unit anew (or joins a run the timer started in between, also after now).
sync_now() {
	local units=("${@/#/meso360-base-sync@}")
	ct base systemctl start "${units[@]/%/.service}" || true
	ct base systemctl start "${units[@]/%/.service}"
}
# fresh VEHICLE...: after a sync that started later than now, each base copy holds at least what the vehicle has now
fresh() {
	local since vehicle
	local -A sizes=()
	for vehicle in "$@"; do sizes[$vehicle]=$(sizes_of "$vehicle"); done
	since=$(date +%s)
	for vehicle in "$@"; do
		wait_for 90 "a sync of $vehicle after $since" synced_after "$vehicle" "$since" &&
			files_equal "$vehicle" "${sizes[$vehicle]}" || return 1
	done
}

# --- main ---------------------------------------------------------------------------------------

declare -A START_SIZES=()

main() {
	local vehicle version t_apply arrived outage_start outage_end sim_stop t_back back_sizes caught= alerted=
	[ "$(id -u)" = 0 ] || { echo "scripts/e2e_fleet.sh: needs root (debootstrap, systemd-nspawn, ip netns)" >&2; exit 2; }
	version=$(dpkg-parsechangelog -l "$REPO/debian/changelog" -SVersion)
	DEB=$(realpath "${MESO360_E2E_DEB:-$REPO/dist/meso360_${version}_all.deb}")
	BASE_DEB=$(realpath "${MESO360_E2E_BASE_DEB:-$REPO/dist/meso360-base_${version}_all.deb}")
	log "packages under test: $DEB $BASE_DEB"

	log "roots: Debian 12, each package's dependencies, then the package, with apt (host network, not booted)"
	prepare_debian_root
	# One after the other: apt locks the shared download cache.
	deps_root vehicle "$DEB" "$WORK/vehicle-root" openssh-server ||
		{ fail "vehicle root: apt installs the dependencies of $(basename "$DEB")" "see the log above"; return 1; }
	deps_root base "$BASE_DEB" "$WORK/base" openssh-server ||
		{ fail "base root: apt installs the dependencies of $(basename "$BASE_DEB")" "see the log above"; return 1; }
	local vehicle_install base_install vehicle_rc=0 base_rc=0
	install_deb vehicle "$DEB" "$WORK/vehicle-root" &
	vehicle_install=$!
	install_deb base "$BASE_DEB" "$WORK/base" &
	base_install=$!
	wait $vehicle_install || vehicle_rc=$?
	wait $base_install || base_rc=$?
	if ((vehicle_rc == 0)); then pass "install: apt-get install ./$(basename "$DEB") into the vehicle root (with openssh-server)"; else
		tail -n 30 "$WORK/install-vehicle.log"; fail "install: apt-get install ./$(basename "$DEB")" "see the log above"; return 1
	fi
	if ((base_rc == 0)); then pass "install: apt-get install ./$(basename "$BASE_DEB") into the base root (with openssh-server)"; else
		tail -n 30 "$WORK/install-base.log"; fail "install: apt-get install ./$(basename "$BASE_DEB")" "see the log above"; return 1
	fi
	prepare_vehicle_root
	prepare_base_root
	umount "$WORK/vehicle-root" # its writable layer becomes the lower layer of each vehicle
	for vehicle in "${VEHICLES[@]}"; do make_vehicle "$vehicle"; done
	check "vehicles: ingest reads the simulator at 127.0.0.1:8081 (the shipped 192.168.4.6 replaced before boot)" eval "
		for v in ${VEHICLES[*]}; do grep -qx 'logger_url = http://127.0.0.1:8081' $WORK/\$v/etc/meso360/meso360.conf || exit 1; done"

	log "network: namespaces $NET-*, bridge br0 in $NET-bridge, $SUBNET.0/24, no route out"
	make_network
	for node in "${NODES[@]}"; do
		check "network: $node (${ADDRESS[$node]}) has no route beyond $SUBNET.0/24 (no default route)" no_route_out "$node"
	done
	log "booting base, MM1, MM2, MM3 (systemd-nspawn --boot --network-namespace-path)"
	boot_all || return 1
	for vehicle in "${VEHICLES[@]}"; do
		check "$vehicle: meso360-sim, meso360-ingest, meso360-web and ssh active" eval "
			for unit in meso360-sim meso360-ingest meso360-web ssh; do
				wait_for 30 \"$vehicle \$unit\" unit_is_active $vehicle \$unit.service || exit 1; done"
	done
	check "base: meso360-base-prometheus, meso360-base-node-exporter, prometheus-alertmanager and ssh active" eval "
		for unit in meso360-base-prometheus meso360-base-node-exporter prometheus-alertmanager ssh; do
			wait_for 30 \"base \$unit\" unit_is_active base \$unit.service || exit 1; done"
	check "network: MM1 reaches the base's sshd at ${ADDRESS[base]}:22 over the bridge" eval "
		ct MM1 timeout 5 bash -c 'exec 3<>/dev/tcp/${ADDRESS[base]}/22 && head -c 8 <&3' | grep -q SSH-2.0-"

	log "tunnels: keygen, the bastion's authorized_keys, trust, start"
	setup_tunnels
	log "fleet access: meso360ctl fleet authorize with the base's key"
	setup_fleet_access
	log "base: fleet.conf, meso360-base-apply"
	write_fleet_conf
	for vehicle in "${VEHICLES[@]}"; do START_SIZES[$vehicle]=$(sizes_of "$vehicle"); done
	t_apply=$SECONDS
	check "base: meso360-base-apply enables a sync timer per vehicle" eval "
		ct base meso360-base-apply && for v in ${VEHICLES[*]}; do unit_is_active base meso360-base-sync@\$v.timer || exit 1; done"

	log "Prometheus: every vehicle up"
	check "Prometheus (from inside base): up{job=\"vehicles\"} == 1 for MM1, MM2, MM3 within 60 s" \
		wait_for 60 "all vehicles up" all_up
	log "every vehicle's files at base"
	if wait_for $((t_apply + 120 - SECONDS)) "all files at base" all_arrived; then
		arrived=$((SECONDS - t_apply))
		pass "sync: every vehicle's data and support files at base, byte-identical, $arrived s after meso360-base-apply (limit 120 s)"
	else
		fail "sync: every vehicle's files at base, byte-identical, within 120 s" "$(for v in "${VEHICLES[@]}"; do files_equal "$v" "${START_SIZES[$v]}"; done | tr '\n' ' ')"
	fi
	check "meso360ctl fleet status on base: MM1, MM2, MM3 synced, 0 files behind, up; exit 0" \
		wait_for 30 "fleet status all well" fleet_status_all_well

	# MM3's outage lasts $OUTAGE s whatever happens; every check that needs no MM3 runs in it, in this order: MM2's
	# simulator stopped at once (NoNewObservation, Alertmanager, the fleet page, then MM2 back and resolved), MM3 seen
	# down (Prometheus, fleet status, VehicleUnreachable after its 2 min), MM1 and MM2 syncing; then the rest waits.
	log "MM3's tunnel down for $OUTAGE s (meso360-tunnel stopped); MM2's simulator stopped; meanwhile MM1 and MM2"
	ct MM3 systemctl stop meso360-tunnel.service
	outage_start=$(date +%s)
	local outage_deadline=$((SECONDS + OUTAGE)) outage_checked
	ct MM2 systemctl stop meso360-sim.service
	sim_stop=$SECONDS
	check "MM3 outage: Prometheus sees MM3 down (up == 0), MM1 and MM2 up" \
		wait_for 60 "MM3 down in Prometheus" eval "vehicles_are 'up{job=\"vehicles\"} == 0' MM3 && vehicles_are 'up{job=\"vehicles\"} == 1' 'MM1 MM2'"
	check "MM3 outage: meso360ctl fleet status exit 1, MM3 down, MM1 and MM2 up" \
		wait_for 30 "fleet status MM3 down" fleet_status_shows_down MM3
	if wait_for $((sim_stop + 120 - SECONDS)) "NoNewObservation MM2" eval "vehicles_are 'up{job=\"vehicles\"} == 1' 'MM1 MM2' && firing_is NoNewObservation MM2"; then
		alerted=$((SECONDS - sim_stop))
		pass "MM2's simulator stopped: NoNewObservation fires for MM2 alone (MM1 up, not firing; MM3 not scraped), $alerted s after (limit 120 s)"
	else
		fail "MM2's simulator stopped: NoNewObservation for MM2 alone within 120 s" "firing for: $(firing NoNewObservation); up: $(vehicles_where 'up{job="vehicles"} == 1')"
	fi
	check "Alertmanager (Debian's prometheus-alertmanager) holds NoNewObservation for MM2" \
		wait_for 30 "alertmanager NoNewObservation MM2" alertmanager_has NoNewObservation MM2
	check "fleet page (headless Chromium in the base's network namespace): MM1 ok, MM2 in alarm (alarm or stale), MM3 down; a marker each in its state's colour; no error" \
		fleet_page MM1=ok MM2=alarm,stale MM3=down
	ct MM2 systemctl start meso360-sim.service
	check "MM2's simulator back: NoNewObservation resolved, no vehicle firing it" \
		wait_for 60 "NoNewObservation resolved" firing_is NoNewObservation ""
	check "MM2: ingest backfilled the simulator's stop, every record once (continuity.py on the vehicle)" \
		wait_for 30 "MM2 continuity" ct MM2 python3 /root/continuity.py
	check "MM3 outage: VehicleUnreachable fires for MM3 alone (for: 2m)" \
		wait_for $((outage_deadline - SECONDS)) "VehicleUnreachable MM3" firing_is VehicleUnreachable MM3
	check "MM3 outage: the base's sync of MM3 fails (vehicle unreachable), recorded in its sync.json" eval "
		python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))[\"ok\"] is not False)' $(base_copy MM3)/sync.json"
	check "MM3 outage: MM1 and MM2 go on syncing (a sync after now holds what the vehicle has now, byte-identical)" \
		fresh MM1 MM2
	outage_checked=$(($(date +%s) - outage_start))
	log "the outage's checks done after $outage_checked s; MM3's tunnel stays down until $OUTAGE s"
	if ((SECONDS < outage_deadline)); then sleep $((outage_deadline - SECONDS)); fi
	log "MM3's tunnel back after $(($(date +%s) - outage_start)) s"
	outage_end=$(date +%s)
	back_sizes=$(sizes_of MM3)
	ct MM3 systemctl start --no-block meso360-tunnel.service
	t_back=$SECONDS
	check "MM3 back: tunnel up and verified again" wait_for 60 "MM3 tunnel up" tunnel_up MM3
	# The next run of MM3's sync timer (a minute after its last, failed, attempt) catches up.
	if wait_for $((t_back + 120 - SECONDS)) "MM3 caught up" files_equal MM3 "$back_sizes"; then
		caught=$((SECONDS - t_back))
		pass "MM3 back: its files at base byte-identical, holding all MM3 had when its tunnel came back, $caught s after (limit 120 s)"
	else
		fail "MM3 back: its files at base byte-identical within 120 s" "$(files_equal MM3 "$back_sizes")"
	fi
	check "MM3 back: the base copy has every GPS second once (no hole, no duplicate), the outage's $((outage_end - outage_start)) s included" \
		files seconds "$(base_copy MM3)" --cover $((outage_start - 5)) "$outage_end"
	check "MM3: ingest collected every record of its simulator once (continuity.py on the vehicle)" \
		ct MM3 python3 /root/continuity.py
	check "Prometheus: every vehicle up again, none firing NoNewObservation (MM3 back included)" \
		wait_for 30 "all up" eval "all_up && firing_is NoNewObservation ''"
	check "meso360ctl fleet status on base: all three synced, 0 files behind, up; exit 0" \
		wait_for 60 "fleet status all well" fleet_status_all_well
	log "fleet status:"
	ct base meso360ctl fleet status >&2 || true
	# The end: files that no longer change (ingest stopped), then one more sync of each (the timer's unit, started
	# now): every file at base must be the vehicle's, byte for byte, the QC sidecars (rewritable) included.
	for vehicle in "${VEHICLES[@]}"; do ct "$vehicle" systemctl stop meso360-ingest.service; done
	check "end: a sync of each vehicle that started after its ingest stopped (meso360-base-sync@MM1..3.service) succeeds" \
		sync_now "${VEHICLES[@]}"
	for vehicle in "${VEHICLES[@]}"; do
		check "end: $vehicle's data, support and QC sidecar files at base byte-identical with the vehicle's, no file missing or extra" \
			files identical "$WORK/$vehicle" "$(base_copy "$vehicle")"
		check "end: $vehicle's copy at base has every GPS second once, from its first row to its last" \
			files seconds "$(base_copy "$vehicle")"
	done
	log "measured: files at base ${arrived:-?} s after apply; MM3 caught up ${caught:-?} s after its tunnel came back;" \
		"NoNewObservation ${alerted:-?} s after MM2's simulator stopped; the outage's checks took $outage_checked s"
}

status=0
main || status=$?
for node in "${NODES[@]}"; do stop_container "$node"; done
summary
if ((status == 0 && FAILURES == 0)); then exit 0; else exit 1; fi
