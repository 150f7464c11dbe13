#!/bin/bash
# The packaged meso360-fleet account, as the package sets it up, against a real sshd with Debian's own settings
# (StrictModes yes, UsePAM yes, the default AuthorizedKeysFile). Run by test_fleet_authorize.py inside a private
# mount namespace (unshare --mount), where copies of /etc and an empty /var/lib are mounted: the host's users and
# directories are never touched. Usage: fleet_account_check.sh REPO WORKDIR PYTHON; prints one "CHECK name rc" line
# per step.
set -u
repo=$1 work=$2 python=$3
mkdir -p "$work/etc" "$work/varlib"
cp -a /etc/. "$work/etc/"
mount --bind "$work/etc" /etc
mount --bind "$work/varlib" /var/lib
check() { echo "CHECK $1 $2"; }

systemd-sysusers "$repo/debian/meso360.sysusers" >/dev/null
check sysusers $?
systemd-tmpfiles --create "$repo/debian/meso360.tmpfiles"
check tmpfiles $?
head -c 40000 /dev/urandom >/var/lib/meso360/data/20250601.txt
echo "support row" >/var/lib/meso360/support/20250601_support.txt
echo '{"record": 5}' >/var/lib/meso360/state/obs.json
for file in /var/lib/meso360/data/* /var/lib/meso360/support/* /var/lib/meso360/state/obs.json; do
	chown meso360-ingest:meso360 "$file" && chmod 0640 "$file"
done

printf '[meso360]\nvehicle = MM9\n' >"$work/meso360.conf"
ssh-keygen -q -t ed25519 -N '' -C base@bastion -f "$work/base"
PYTHONPATH="$repo" "$python" -c 'from meso360.ctl.cli import main; main()' --config "$work/meso360.conf" \
	fleet authorize "$work/base.pub" >/dev/null
check authorize $?

ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<CONFIG
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
StrictModes yes
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
CONFIG
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
trap 'kill $sshd_pid' EXIT
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
ssh="ssh -F /dev/null -i $work/base -p $port -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=20"
ssh+=" -o UserKnownHostsFile=$work/known_hosts -o StrictHostKeyChecking=yes"
mkdir -p "$work/copy"
rsync -a -e "$ssh" meso360-fleet@127.0.0.1:data/ "$work/copy/data/"
check read-data $?
cmp -s "$work/copy/data/20250601.txt" /var/lib/meso360/data/20250601.txt
check data-identical $?
rsync -a -e "$ssh" meso360-fleet@127.0.0.1:support/ "$work/copy/support/"
check read-support $?
rsync -a -e "$ssh" meso360-fleet@127.0.0.1:state/ "$work/copy/state/" 2>"$work/state.err"
check read-state $?
test -e "$work/copy/state/obs.json"
check state-copied $?
rsync -a -e "$ssh" "$work/base.pub" meso360-fleet@127.0.0.1:data/ 2>/dev/null
check push $?
$ssh meso360-fleet@127.0.0.1 id 2>/dev/null
check shell $?
