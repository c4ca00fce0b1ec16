#!/bin/sh
# Write the htpasswd file (bcrypt) from REGISTRY_USER/REGISTRY_PASSWORD and REGISTRY_USERS, then
# run the registry. Passwords go to htpasswd on stdin, never on a command line.
set -eu
htpasswd_file=/etc/docker/registry/htpasswd

add_user() {
    if [ -z "$1" ] || [ -z "$2" ]; then
        echo "registry: empty user name or password" >&2
        exit 1
    fi
    if [ -s "$htpasswd_file.new" ]; then
        printf '%s' "$2" | htpasswd -iB "$htpasswd_file.new" "$1" 2>/dev/null
    else
        printf '%s' "$2" | htpasswd -iBc "$htpasswd_file.new" "$1" 2>/dev/null
    fi
}

if [ -n "${REGISTRY_USER:-}${REGISTRY_USERS:-}" ]; then
    rm -f "$htpasswd_file.new"
    if [ -n "${REGISTRY_USER:-}" ]; then
        add_user "$REGISTRY_USER" "${REGISTRY_PASSWORD:-}"
    fi
    for pair in ${REGISTRY_USERS:-}; do
        add_user "${pair%%:*}" "${pair#*:}"
    done
    mv "$htpasswd_file.new" "$htpasswd_file"
elif [ ! -s "$htpasswd_file" ]; then
    echo "registry: set REGISTRY_USER and REGISTRY_PASSWORD (or REGISTRY_USERS, or mount $htpasswd_file)" >&2
    exit 1
fi

# The registry reads REGISTRY_* variables as configuration overrides: these are not its own.
unset REGISTRY_USER REGISTRY_PASSWORD REGISTRY_USERS
if [ "${1:-}" = "serve" ]; then
    exec docker-registry "$@"
fi
exec "$@"
