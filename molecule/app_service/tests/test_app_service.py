"""Verify the app deploy on the server (testinfra)."""

import json

CURL = "curl -sk --max-time 5 --resolve {d}:443:127.0.0.1 https://{d}{p}"


def running(host, service):
    out = host.run("docker ps --filter label=org.sertantai.service=%s --format '{{.Names}}'" % service)
    return sorted(out.stdout.split())


def test_each_component_runs_one_colour(host):
    assert running(host, "legal") == ["sertantai-legal-blue", "sertantai-legal-electric-blue", "sertantai-legal-frontend-blue"]
    assert running(host, "auth") == ["sertantai-auth-blue"]


def test_api_frontend_and_electric_answer_through_nginx(host):
    api = json.loads(host.run(CURL.format(d="legal.sertantai.test", p="/api/x")).stdout)
    assert api["service"] == "legal"
    assert "legal frontend" in host.run(CURL.format(d="legal.sertantai.test", p="/")).stdout
    health = json.loads(host.run(CURL.format(d="legal.sertantai.test", p="/electric/v1/health")).stdout)
    assert health == {"status": "active"}
