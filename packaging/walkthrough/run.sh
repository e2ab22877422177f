#!/bin/bash
# Follows docs/deploy.md in a throwaway root: `sudo packaging/walkthrough/run.sh build/deb/inkstone_*.deb`
# (after `make deb`). The root is an overlay of this machine's `/` whose changes go to a scratch
# directory, entered with chroot in private mount and PID namespaces: nothing it installs or
# starts (the package, MariaDB's data, nginx's site, the `inkstone` user) reaches the real
# system, and every process it starts dies with it. It shares the network (apt-get, and ports
# 80, 443 and 3306 on this machine, which must be free). Needs root, unshare and overlayfs;
# Debian 12 with nginx and mariadb-server installable. The transcript goes to stdout; the exit
# status is guide.sh's. Not part of `make test` (the packaging test is).
set -euo pipefail
deb=$(realpath "${1:?usage: run.sh PATH/TO/inkstone_VERSION_ARCH.deb}")
here=$(dirname "$(realpath "$0")")
scratch=$(mktemp -d /tmp/inkstone-walkthrough.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch"/{upper,work,merged}
unshare -m -p -f --propagation private bash -euxc '
  S=$1; M=$S/merged
  mount -t overlay overlay -o lowerdir=/,upperdir=$S/upper,workdir=$S/work $M
  mount -t proc proc $M/proc
  mount --rbind /dev $M/dev
  mount -t sysfs sysfs $M/sys
  mount -t tmpfs tmpfs $M/run
  mount -t tmpfs tmpfs $M/tmp
  cp "$2" "$3/guide.sh" "$3/notify.py" $M/root/
  DEB=$(basename "$2") chroot $M /bin/bash /root/guide.sh
' walkthrough "$scratch" "$deb" "$here"
