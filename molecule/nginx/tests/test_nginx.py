"""nginx role on a Hetzner-like server, after converge, idempotence, check and side_effect."""

import json
import time

import pytest

CONF = "/opt/sertantai/nginx/conf.d"


def curl(host, url):
    """(status, headers, body) of a request from the server itself, the name resolved to 127.0.0.1."""
    name = url.split("/")[2]
    port = "443" if url.startswith("https") else "80"
    out = host.run("curl -sk -D /dev/stderr --max-time 10 --resolve %s:%s:127.0.0.1 %s", name, port, url)
    assert out.rc == 0, "curl %s failed (rc %d): %s" % (url, out.rc, out.stderr)
    lines = out.stderr.replace("\r", "").split("\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return status, headers, out.stdout


def docker_json(host, *args):
    out = host.run("docker " + " ".join(["%s"] * len(args)), *args)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def nginx_processes(top):
    """The "<pid> nginx: master|worker process" lines of `docker top nginx -o pid,args`."""
    lines = [" ".join(line.split()) for line in top.splitlines()]
    processes = sorted(line for line in lines if " nginx: " in line)
    assert any("master process" in line for line in processes), top
    return processes


def test_frontend_on_root(host):
    status, _headers, body = curl(host, "https://legal.sertantai.test/")
    assert status == 200
    assert "<h1>legal frontend</h1>" in body


def test_api_reaches_the_backend(host):
    status, _headers, body = curl(host, "https://legal.sertantai.test/api/things?x=1")
    assert status == 200
    answer = json.loads(body)
    assert answer["service"] == "legal" and answer["path"] == "/api/things?x=1"


def test_health_reaches_the_backend_health(host):
    status, _headers, body = curl(host, "https://legal.sertantai.test/health")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_electric_prefix_is_removed_and_headers_are_kept(host):
    status, headers, body = curl(host, "https://legal.sertantai.test/electric/v1/shape?table=items&offset=-1")
    assert status == 200
    answer = json.loads(body)
    assert answer["service"] == "legal-electric"
    assert answer["path"] == "/v1/shape?table=items&offset=-1"
    assert headers["electric-handle"] == "legal-1700000000000"
    assert headers["electric-offset"] == "0_0"
    assert "electric-schema" in headers
    assert headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    assert headers["etag"] == '"legal-1700000000000:-1:0_0"'


def test_electric_location_streams_without_buffering(host):
    site = host.file(CONF + "/legal.sertantai.test.conf").content_string
    electric = site.split("location /electric/", 1)[1].split("}", 1)[0]
    for directive in ("proxy_buffering off;", "proxy_cache off;", "proxy_read_timeout 300s;"):
        assert directive in electric
    assert "proxy_http_version 1.1;" in site


def test_service_without_frontend_or_electric(host):
    status, _headers, body = curl(host, "https://auth.sertantai.test/api/me")
    assert status == 200 and json.loads(body)["service"] == "auth"
    # No /electric/ location: the request falls through to / (here the backend, which has no such path).
    status, _headers, _body = curl(host, "https://auth.sertantai.test/electric/v1/shape")
    assert status == 404


@pytest.mark.parametrize("domain", ["legal.sertantai.test", "auth.sertantai.test"])
def test_http_redirects_to_https(host, domain):
    status, headers, _body = curl(host, "http://%s/api/x?y=1" % domain)
    assert status == 301
    assert headers["location"] == "https://%s/api/x?y=1" % domain


@pytest.mark.parametrize("domain", ["legal.sertantai.test", "unknown.example.test"])
def test_acme_challenge_is_served_from_the_webroot_on_http(host, domain):
    token = "tok-%d" % time.time_ns()
    host.run("mkdir -p /opt/sertantai/nginx/acme-webroot/.well-known/acme-challenge && "
             "echo %s > /opt/sertantai/nginx/acme-webroot/.well-known/acme-challenge/%s", token, token)
    status, _headers, body = curl(host, "http://%s/.well-known/acme-challenge/%s" % (domain, token))
    host.run("rm -f /opt/sertantai/nginx/acme-webroot/.well-known/acme-challenge/%s", token)
    assert status == 200 and body.strip() == token


def test_bootstrap_certificate_matches_each_domain(host):
    for domain in ("legal.sertantai.test", "auth.sertantai.test"):
        out = host.run("echo | openssl s_client -connect 127.0.0.1:443 -servername %s 2>/dev/null "
                       "| openssl x509 -noout -subject -ext subjectAltName", domain)
        assert out.rc == 0, out.stderr
        assert "DNS:%s" % domain in out.stdout


def test_unknown_name_gets_no_certificate(host):
    out = host.run("echo | openssl s_client -connect 127.0.0.1:443 -servername nobody.example.test 2>&1")
    assert "BEGIN CERTIFICATE" not in out.stdout
    assert "alert" in out.stdout.lower()


def test_only_nginx_publishes_host_ports(host):
    names = host.run("docker ps --format '{{.Names}}'").stdout.split()
    assert "nginx" in names
    for info in docker_json(host, "inspect", *names):
        bindings = {port: b for port, b in (info["HostConfig"]["PortBindings"] or {}).items() if b}
        if info["Name"] == "/nginx":
            assert set(bindings) == {"80/tcp", "443/tcp"}
        else:
            assert not bindings, "%s publishes %s" % (info["Name"], bindings)


def test_nginx_is_healthy_on_infra_network_with_read_only_mounts(host):
    info = docker_json(host, "inspect", "nginx")[0]
    assert info["State"]["Health"]["Status"] == "healthy"
    assert "infra_network" in info["NetworkSettings"]["Networks"]
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    for dest in ("/etc/nginx/conf.d", "/var/www/acme", "/etc/nginx/certs", "/etc/letsencrypt"):
        assert mounts[dest]["RW"] is False


def test_one_site_per_service_from_the_template(host):
    files = sorted(host.file(CONF).listdir())
    assert files == ["00-default.conf", "auth.sertantai.test.conf", "legal.sertantai.test.conf"]
    assert host.file(CONF + "/legal.sertantai.test.conf").contains("set $sertantai_backend  http://sertantai-legal-$sertantai_backend_color:4000;")
    assert host.file(CONF + "/00-default.conf").contains("resolver 127.0.0.11 valid=10s ipv6=off;")


def test_broken_template_is_refused_with_nginx_error_and_live_config_kept(host):
    result = json.loads(host.file("/root/edge_refusals.json").content_string)
    assert result["broken"]["failed"], "the broken template went through"
    assert 'unknown directive "bogus_directive" in /etc/nginx/conf.d/' in result["broken"]["msg"]
    assert "nothing went live" in result["broken"]["msg"]
    assert result["sums_before"] == result["sums_after"]
    assert not host.file(CONF + "/legal.sertantai.test.conf").contains("bogus_directive")
    # The running nginx never saw it either.
    out = host.run("docker exec nginx nginx -T")
    assert out.rc == 0 and "bogus_directive" not in out.stdout


def test_a_new_site_in_check_mode_is_proven_and_nothing_goes_live(host):
    result = json.loads(host.file("/root/edge_check_new_site.json").content_string)
    assert not result["failed"], result["msg"]
    # nginx -t ran on the staged configuration, the new site and its staged bootstrap certificate included.
    assert str(result["test_rc"]) == "0"
    assert host.file("/opt/sertantai/nginx/staging/conf.d/fresh.sertantai.test.conf").exists
    assert host.file("/opt/sertantai/nginx/staging/certs/fresh.sertantai.test/fullchain.pem").exists
    # The certificate a run would make is reported; the live files are as they were, to the second.
    assert str(result["key_changed"]) == "True"
    assert result["before"] == result["after"]
    assert not host.file("/opt/sertantai/nginx/certs/fresh.sertantai.test").exists
    assert not host.file(CONF + "/fresh.sertantai.test.conf").exists


@pytest.mark.parametrize("case, words", [
    ("bad_domain", ["legal", "domain", "not a valid hostname"]),
    ("no_domain", ["nodomain", "domain", "required"]),
])
def test_bad_input_fails_before_any_change(host, case, words):
    result = json.loads(host.file("/root/edge_refusals.json").content_string)
    assert result[case]["failed"]
    for word in words:
        assert word in result[case]["msg"]
    assert not host.file(CONF + "/nodomain.conf").exists


def test_recreated_upstream_is_reached_without_a_reload(host):
    recorded = json.loads(host.file("/root/edge_recreate.json").content_string)
    assert recorded["new_ip"] and recorded["new_ip"] != recorded["old_ip"]
    new_hostname = docker_json(host, "inspect", "sertantai-legal-blue")[0]["Config"]["Hostname"]
    # nginx caches the old address for at most `valid=10s`, then asks Docker's DNS again.
    answer = None
    for _attempt in range(40):
        out = host.run("curl -sk --max-time 5 --resolve legal.sertantai.test:443:127.0.0.1 "
                       "https://legal.sertantai.test/api/who")
        if out.rc == 0 and out.stdout.startswith("{"):
            answer = json.loads(out.stdout)
            if answer.get("hostname") == new_hostname:
                break
        time.sleep(1)
    assert answer and answer["hostname"] == new_hostname
    top_after = host.run("docker top nginx -o pid,args").stdout
    # Only nginx's own processes: the healthcheck's wget may run beside them at either moment.
    assert nginx_processes(top_after) == nginx_processes(recorded["top_before"]), "nginx was reloaded or restarted"


def test_the_self_signed_bootstrap_certificate_sends_no_strict_transport_security(host):
    headers = host.run("curl -sk -o /dev/null -D - --resolve legal.sertantai.test:443:127.0.0.1 https://legal.sertantai.test/api/x")
    assert headers.stdout.startswith("HTTP/")
    assert "strict-transport-security" not in headers.stdout.lower()
