#!/usr/bin/env bash
# Start the server's own dockerd, then sshd in the foreground.
# SERVER_AUTHORIZED_KEY: the public key allowed to log in as root.
# SERVER_INSECURE_REGISTRIES: space-separated registries the engine may use over plain HTTP.
set -euo pipefail
ssh-keygen -A >/dev/null
if [ -n "${SERVER_AUTHORIZED_KEY:-}" ]; then
    printf '%s\n' "$SERVER_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
fi
mkdir -p /etc/docker
if [ -n "${SERVER_INSECURE_REGISTRIES:-}" ] && [ ! -f /etc/docker/daemon.json ]; then
    # shellcheck disable=SC2086  # a space-separated list, split on purpose
    printf '{"insecure-registries": [%s]}\n' \
        "$(printf '"%s",' $SERVER_INSECURE_REGISTRIES | sed 's/,$//')" > /etc/docker/daemon.json
fi
nohup dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
done
exec /usr/sbin/sshd -D -e
