#!/usr/bin/env bash
# Installs Debian's RabbitMQ server for the tests, which start private nodes of their own on loopback (never the
# system service). Idempotent: does nothing when the server is there. Needs root (as CI and the dev machines run)
# and Debian's package sources; the system service is kept from starting while the package installs.
set -euo pipefail
server=/usr/lib/rabbitmq/bin/rabbitmq-server
if [ -x "$server" ] && command -v epmd > /dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "error: RabbitMQ is not installed and installing it needs root: apt-get install rabbitmq-server" >&2
  exit 1
fi
echo "installing rabbitmq-server (Debian package) for the broker tests"
# policy-rc.d answering 101 keeps invoke-rc.d from starting the system node during the install; an existing one stays.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  own_policy=true
fi
trap '[ "$own_policy" = true ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends rabbitmq-server > /dev/null
[ -x "$server" ] || { echo "error: rabbitmq-server installed but $server is missing" >&2; exit 1; }
echo "installed $(dpkg-query -W -f='${Version}' rabbitmq-server)"
