#!/bin/bash
# Installs, from Debian's packages, everything the gateway's tests and local run need.
# Idempotent: packages already present are skipped and no packaged daemon is started.
set -euo pipefail
PKGS=(prosody python3-slixmpp python3-nbxmpp inspircd kannel kannel-extras docker-compose openssl curl ca-certificates python3-aiosmtpd swaks libnet-ssleay-perl unbound)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Keep Debian's maintainer scripts from starting packaged daemons on default ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
