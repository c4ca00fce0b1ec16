"""certbot role against Pebble with real HTTP-01 validation through our nginx."""

import json

import pytest

DOMAINS = ["legal.sertantai.test", "auth.sertantai.test"]
PEBBLE_API_CA = "/usr/local/share/sertantai-test/pebble-api-ca.pem"


def record(host, name):
    return json.loads(host.file("/root/edge_%s.json" % name).content_string)


@pytest.fixture(scope="module")
def pebble_root(host):
    """The root Pebble issued this run's certificates under, from its management API."""
    out = host.run("curl -sf --cacert %s https://sertantai-test-edge-pebble:15000/roots/0 -o /root/pebble-root.pem", PEBBLE_API_CA)
    assert out.rc == 0, out.stderr
    return "/root/pebble-root.pem"


@pytest.mark.parametrize("domain", DOMAINS)
def test_served_certificate_is_issued_by_pebble_for_the_domain(host, pebble_root, domain):
    out = host.run("echo | openssl s_client -connect 127.0.0.1:443 -servername %s -CAfile %s -verify_return_error "
                   "-verify_hostname %s 2>&1", domain, pebble_root, domain)
    assert "Verify return code: 0 (ok)" in out.stdout, out.stdout
    cert = host.run("echo | openssl s_client -connect 127.0.0.1:443 -servername %s 2>/dev/null "
                    "| openssl x509 -noout -issuer -ext subjectAltName", domain)
    assert "Pebble Intermediate CA" in cert.stdout
    assert "DNS:%s" % domain in cert.stdout


@pytest.mark.parametrize("domain", DOMAINS)
def test_nginx_paths_link_to_the_issued_certificate(host, domain):
    for name in ("fullchain.pem", "privkey.pem"):
        link = host.file("/opt/sertantai/nginx/certs/%s/%s" % (domain, name))
        assert link.is_symlink
        assert link.linked_to == "/etc/letsencrypt/live/%s/%s" % (domain, name) or \
            link.linked_to.startswith("/etc/letsencrypt/archive/%s/" % domain)


def test_renewal_config_uses_the_webroot_and_the_test_server(host):
    conf = host.file("/etc/letsencrypt/renewal/legal.sertantai.test.conf").content_string
    assert "authenticator = webroot" in conf
    assert "server = https://sertantai-test-edge-pebble:14000/dir" in conf
    # The scheduled renewal uses the role's threshold (certbot_renew_before_days, default 30).
    assert "renew_before_expiry = 30 days" in conf


def test_http_redirects_to_https(host):
    out = host.run("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --resolve legal.sertantai.test:80:127.0.0.1 "
                   "http://legal.sertantai.test/api/x")
    assert out.stdout == "301 https://legal.sertantai.test/api/x"


def test_routes_reach_their_containers(host, pebble_root):
    api = host.run("curl -sf --resolve legal.sertantai.test:443:127.0.0.1 --cacert %s "
                   "https://legal.sertantai.test/api/x", pebble_root)
    assert api.rc == 0, api.stderr
    assert json.loads(api.stdout)["service"] == "legal"
    front = host.run("curl -sk --resolve legal.sertantai.test:443:127.0.0.1 https://legal.sertantai.test/")
    assert "<h1>legal frontend</h1>" in front.stdout


def test_second_run_makes_no_acme_request(host):
    result = record(host, "second_run")
    assert not result["failed"], "the second run contacted the ACME server: %s" % result["msg"]


def test_forced_renewal_under_load_loses_no_request(host):
    result = record(host, "renewal")
    counts = result["counts"]
    print("renewal under load: %d requests, %d failed" % (counts["total"], counts["failed"]))
    assert counts["total"] >= 10
    assert counts["failed"] == 0
    assert result["serial_after"] != result["serial_before"], "nginx still serves the old certificate"
    assert "Congratulations, all renewals succeeded" in result["renew_stdout"] + result["renew_stderr"]


def test_deploy_hook_and_schedule(host):
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/reload-nginx.sh")
    assert hook.exists and hook.mode == 0o755
    assert hook.contains("nginx -s reload")
    cron = host.file("/etc/cron.d/sertantai-certbot-renew")
    assert cron.exists
    assert cron.contains("17 3,15 \\* \\* \\* root REQUESTS_CA_BUNDLE=%s certbot renew --quiet" % PEBBLE_API_CA)


def test_cron_runs_the_schedule_and_starts_at_boot(host):
    # prepare.yml stopped cron and disabled it for boot: an entry in /etc/cron.d alone renews nothing.
    assert host.run("grep -qsx cron /proc/[0-9]*/comm").rc == 0, "cron does not run: the renewal entry never runs"
    assert host.run("ls /etc/rc2.d/S*cron").rc == 0, "cron is not enabled for boot: " + host.run("ls /etc/rc2.d").stdout


def test_dns_mismatch_is_reported_before_any_acme_request(host):
    result = record(host, "dns")
    assert result["failed"]
    assert "elsewhere.sertantai.test resolves to 10.213.77.99, expected 10.213.77.20" in result["msg"]
    assert "no ACME request was made" in result["msg"]
    # certbot did not even start: its log is untouched, and no lineage exists.
    assert result["log_mtime_after"] == result["log_mtime_before"]
    assert not host.file("/etc/letsencrypt/renewal/elsewhere.sertantai.test.conf").exists


def test_standalone_failure_leaves_nginx_running(host):
    result = record(host, "standalone")
    assert result["failed"], "certbot was expected to fail against an unreachable ACME server"
    assert "standalone" in result["task"]
    started_after, running = result["after"].split()
    assert running == "true"
    assert started_after != result["started_before"], "nginx was not stopped for the standalone request"
    info = json.loads(host.run("docker inspect nginx").stdout)[0]
    assert info["State"]["Health"]["Status"] == "healthy"
    served = host.run("curl -sk --resolve legal.sertantai.test:443:127.0.0.1 https://legal.sertantai.test/api/x")
    assert json.loads(served.stdout)["service"] == "legal"


def test_issued_certificates_send_strict_transport_security(host):
    for path in ("/", "/api/x"):
        headers = host.run("curl -sk -o /dev/null -D - --resolve legal.sertantai.test:443:127.0.0.1 https://legal.sertantai.test%s" % path)
        assert "strict-transport-security: max-age=31536000" in headers.stdout.lower(), path
    assert host.file("/opt/sertantai/nginx/certs/legal.sertantai.test/hsts.conf").exists
