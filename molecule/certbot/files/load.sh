#!/usr/bin/env bash
# A steady request loop through nginx (about 20 requests/s, each a new TLS connection) until the
# stop file exists, plus 2 s; at most 120 s. Writes {"total": N, "failed": N} to the result file.
# Usage: load.sh <stop file> <started file> <result file>
stop=$1 started=$2 result=$3
total=0 failed=0 deadline=$((SECONDS + 120)) stopping=""
while [ "$SECONDS" -lt "$deadline" ]; do
    code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 \
        --resolve legal.sertantai.test:443:127.0.0.1 https://legal.sertantai.test/api/load) || true
    total=$((total + 1))
    [ "$code" = 200 ] || failed=$((failed + 1))
    [ "$total" = 1 ] && touch "$started"
    if [ -z "$stopping" ] && [ -e "$stop" ]; then
        stopping=1 deadline=$((SECONDS + 2))
    fi
    sleep 0.05
done
printf '{"total": %d, "failed": %d}\n' "$total" "$failed" > "$result"
