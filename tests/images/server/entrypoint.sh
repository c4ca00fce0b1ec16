#!/usr/bin/env bash
# Start the server's own dockerd (when Docker is installed) and the other services enabled at boot,
# then sshd in the foreground.
# SERVER_AUTHORIZED_KEY: the public key allowed to log in as root.
# SERVER_INSECURE_REGISTRIES: space-separated registries the engine may use over plain HTTP.
# SERVER_FORWARDS: space-separated <port>=<address>:<port>; each listens on 127.0.0.1:<port> of the
#   server and forwards to <address>:<port>. The demo's registries run beside the server, and the
#   server reaches them as localhost:<port>, the names the images are pushed under on the machine
#   (Docker talks plain HTTP to a registry on localhost without any configuration).
# Shared with tests/images/server-bare (a server without Docker until docker_host installs it; the
# entrypoint then starts dockerd at each container start, as an enabled service starts at boot).
set -euo pipefail
ssh-keygen -A >/dev/null
if [ -n "${SERVER_AUTHORIZED_KEY:-}" ]; then
    printf '%s\n' "$SERVER_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
fi
for forward in ${SERVER_FORWARDS:-}; do
    port=${forward%%=*} target=${forward#*=}
    [[ "$port" =~ ^[0-9]+$ && "$target" =~ ^[^:]+:[0-9]+$ ]] \
        || { echo "SERVER_FORWARDS: '$forward' is not <port>=<address>:<port>" >&2; exit 1; }
    nohup socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "TCP:$target" >"/var/log/forward-$port.log" 2>&1 &
done
if command -v dockerd >/dev/null; then
    mkdir -p /etc/docker
    if [ -n "${SERVER_INSECURE_REGISTRIES:-}" ] && [ ! -f /etc/docker/daemon.json ]; then
        # shellcheck disable=SC2086  # a space-separated list, split on purpose
        printf '{"insecure-registries": [%s]}\n' \
            "$(printf '"%s",' $SERVER_INSECURE_REGISTRIES | sed 's/,$//')" > /etc/docker/daemon.json
    fi
    # A server's boot empties /run (a tmpfs); a container that restarts keeps it. The pid files of the
    # last start's dockerd and containerd then name processes that are gone, and when another process
    # has that pid now, dockerd refuses to start ("process with PID N is still running") or waits for
    # a containerd that is not there. Nothing of theirs runs before this line.
    rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    # Docker 26 and later disable IPv6 on the interfaces of an IPv4-only network through a sysctl
    # that a container in a container cannot write; this lets dockerd go on (see
    # tests/images/server-bare/docker-default). A real server needs none of this.
    DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1 nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
fi
# A boot also starts the other services enabled for it: the sysv-rc links of runlevel 2, Debian's
# default (cron, enabled by its package and by the certbot role, which schedules the renewal with
# it). A link the role or an operator disabled (K01cron) is not started. sshd and dockerd are
# started by this script (dockerd above, sshd below), so their links are skipped.
for link in /etc/rc2.d/S[0-9][0-9]*; do
    [ -x "$link" ] || continue
    service=${link##*/S[0-9][0-9]}
    case "$service" in ssh | docker) continue ;; esac
    "$link" start >"/var/log/boot-$service.log" 2>&1 \
        || echo "server-entrypoint: $service did not start at boot (log: /var/log/boot-$service.log)" >&2
done
exec /usr/sbin/sshd -D -e
