"""_status: parsing the host reads of playbooks/status.yml and judging them into rows and problems (pure)."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _fleet, _status

LEGAL = _fleet.normalize_service({
    "name": "legal", "domain": "legal.sertantai.com", "database": "sertantai_legal_prod",
    "backend": {"image": "ghcr.io/shotleybuilder/sertantai-legal-backend", "tag": "v1", "port": 4000},
    "frontend": {"image": "ghcr.io/shotleybuilder/sertantai-legal-frontend", "port": 3000},
    "electric": {"enabled": True, "stream_id": "legal"},
})
AUTH = _fleet.normalize_service({
    "name": "auth", "domain": "auth.sertantai.com", "database": "sertantai_auth_prod",
    "backend": {"image": "ghcr.io/shotleybuilder/sertantai-auth-backend", "port": 4001},
})
NOW = 1_800_000_000
DAY = 86400
SETTINGS = {"cert_min_days": 14, "disk_max_percent": 90, "issue_certificates": True, "nginx_container": "nginx",
            "pg_container": "shared_postgres", "volumes": ["shared_postgres_data", "sertantai-legal-electric-storage"]}


def live(name, component, running=True, health="healthy", image="ghcr.io/o/x:v1", restarts=0):
    return dict(name=name, component=component, color="blue", running=running, state="running" if running else "exited",
                health=health, image=image, image_id="sha256:a", restarts=restarts)


def app(service, **overrides):
    """An app_service_info result with every component healthy and up to date; overrides per component."""
    components = {}
    for component, base in service["containers"].items():
        components[component] = dict(live=live(base + "-blue", component), up_to_date=True, reasons=[], leftovers=[])
        components[component].update(overrides.get(component, {}))
    return dict(changed=False, components=components)


def pg(databases=("sertantai_legal_prod", "sertantai_auth_prod"), wal_level="logical", pending=False):
    return dict(version="16.4", failed=False,
                settings={"wal_level": dict(setting=wal_level, unit=None, pending_restart=pending),
                          "max_slot_wal_keep_size": dict(setting="4096", unit="MB", pending_restart=False)},
                databases=dict((d, dict(extensions=["plpgsql"], size_bytes=7 * 1024 * 1024)) for d in databases))


def electric(active=True, waiting=False, slot=True, stale=None):
    slots = [dict(name="electric_slot_legal", active=active, retained_wal="56 bytes", retained_wal_bytes=56)] if slot else []
    return dict(failed=False, slots=slots, conflicts=[], stale=stale or [],
                waiting=[dict(slot="electric_slot_legal", instances=["sertantai-legal-electric"], holder_pid=337)]
                if waiting else [])


DOCKER_LINES = [
    "container /nginx running healthy 0",
    "container /shared_postgres running healthy 2",
    "volume shared_postgres_data 48032402 /var/lib/docker 100000000000 20000000000 80000000000",
    "volume sertantai-legal-electric-storage 40 /var/lib/docker 100000000000 20000000000 80000000000",
]


def cert_lines(legal_days=80, auth_days=80, legal_kind="issued", auth_kind="issued", renewal="timer active"):
    return ["cert legal.sertantai.com %s %d %d CN=R11,O=Let's Encrypt,C=US" % (legal_kind, NOW + legal_days * DAY + 60, NOW),
            "cert auth.sertantai.com %s %d %d CN=R11,O=Let's Encrypt,C=US" % (auth_kind, NOW + auth_days * DAY + 60, NOW)] + (
        ["renewal " + renewal] if renewal else [])


def report(apps=None, postgres="default", electric_result="default", docker_lines=None, certs=None, settings=None):
    return _status.build_report(
        [LEGAL, AUTH], apps if apps is not None else {"legal": app(LEGAL), "auth": app(AUTH)},
        pg() if postgres == "default" else postgres, electric() if electric_result == "default" else electric_result,
        DOCKER_LINES if docker_lines is None else docker_lines, cert_lines() if certs is None else certs,
        dict(SETTINGS, **(settings or {})))


def test_a_healthy_host_has_no_problem_and_every_row():
    result = report()
    assert result["problems"] == []
    assert [(r["service"], r["component"], r["container"], r["tag"], r["health"], r["deploy"]) for r in result["components"]] == [
        ("legal", "backend", "sertantai-legal-blue", "v1", "healthy", "leave it"),
        ("legal", "frontend", "sertantai-legal-frontend-blue", "v1", "healthy", "leave it"),
        ("legal", "electric", "sertantai-legal-electric-blue", "v1", "healthy", "leave it"),
        ("auth", "backend", "sertantai-auth-blue", "v1", "healthy", "leave it"),
    ]
    legal, auth = result["services"]
    assert (legal["electric"], legal["lag"], legal["certificate"]) == ("active", "56 bytes", "80 days (issued)")
    assert legal["database"] == "sertantai_legal_prod 7.0 MB"
    assert legal["urls"] == "https://legal.sertantai.com/  /api/  /electric/"
    assert (auth["electric"], auth["lag"], auth["urls"]) == ("-", "-", "https://auth.sertantai.com/  /api/")
    postgres_row, nginx_row, renewal_row = result["shared"]
    assert postgres_row["state"] == "healthy, 2 restarts"
    assert postgres_row["details"] == "16.4, wal_level=logical, max_slot_wal_keep_size=4096MB"
    assert nginx_row == dict(shared="nginx", container="nginx", state="healthy, 0 restarts", details="-")
    assert renewal_row == dict(shared="certbot renew", container="-", state="active",
                               details="systemd timer sertantai-certbot-renew.timer")
    assert [v["volume"] for v in result["volumes"]] == SETTINGS["volumes"]
    assert result["volumes"][0]["used"] == "20% of 93.1 GB (74.5 GB free)"


def down(**fields):
    return {"live": dict(live("sertantai-legal-blue", "backend"), **fields), "up_to_date": False,
            "reasons": ["sertantai-legal-blue is not healthy"]}


@pytest.mark.parametrize("kwargs, expected", [
    (dict(apps={"legal": app(LEGAL, backend=down(running=False, state="exited")), "auth": app(AUTH)}),
     "legal backend: sertantai-legal-blue is exited (docker logs sertantai-legal-blue; a deploy replaces it: "
     "scripts/deploy --service legal --backend)"),
    (dict(apps={"legal": app(LEGAL, backend=down(health="unhealthy")), "auth": app(AUTH)}),
     "legal backend: sertantai-legal-blue is unhealthy"),
    (dict(apps={"legal": app(LEGAL, frontend={"live": None, "up_to_date": False, "reasons": ["no frontend"]}),
                "auth": app(AUTH)}),
     "legal frontend: no container runs (scripts/deploy --service legal --frontend)"),
    (dict(apps={"legal": app(LEGAL), "auth": dict(app(AUTH, backend={"live": None, "up_to_date": False, "reasons": []}),
                                                  site={"path": "/x/auth.sertantai.com.conf", "exists": False})}),
     "auth backend: no container runs (not provisioned on this host: playbooks/site.yml creates its site and deploys it)"),
    (dict(apps={"legal": app(LEGAL)}), "auth: could not be read: not read"),
    (dict(apps={"legal": app(LEGAL), "auth": {"failed": True, "msg": "docker: permission denied"}}),
     "auth: could not be read: docker: permission denied"),
    (dict(electric_result=electric(waiting=True)),
     "legal electric: waits for the replication lock of electric_slot_legal held by pid 337"),
    (dict(electric_result=electric(active=False)), "legal electric: replication slot electric_slot_legal is not active"),
    (dict(electric_result=electric(slot=False)), "legal electric: replication slot electric_slot_legal does not exist"),
    (dict(electric_result=electric(stale=[dict(slot="electric_slot_legal", reason="lost", msg="slot is lost: resync")])),
     "legal electric: slot is lost: resync"),
    (dict(electric_result={"failed": True, "msg": "permission denied for pg_stat_activity"}),
     "Electric slots: could not be read: permission denied for pg_stat_activity"),
    (dict(certs=cert_lines(legal_days=5)), "legal certificate of legal.sertantai.com: expires in 5 days (less than 14;"),
    (dict(certs=cert_lines(auth_days=-3)), "auth certificate of auth.sertantai.com: expired 3 days ago"),
    (dict(certs=cert_lines(auth_days=20), settings={"cert_min_days": 30}),
     "auth certificate of auth.sertantai.com: expires in 20 days (less than 30;"),
    (dict(certs=cert_lines(legal_kind="self-signed")), "legal certificate of legal.sertantai.com: still the self-signed bootstrap"),
    (dict(certs=cert_lines()[:1] + ["cert auth.sertantai.com missing"] + cert_lines()[2:]),
     "auth certificate of auth.sertantai.com: missing (playbooks/site.yml makes one)"),
    (dict(certs=cert_lines(renewal="cron inactive")),
     "certbot renew: cron does not run, so /etc/cron.d/sertantai-certbot-renew never runs and no certificate renews "
     "(playbooks/site.yml starts cron)"),
    (dict(certs=cert_lines(renewal="timer inactive")),
     "certbot renew: the systemd timer sertantai-certbot-renew.timer is inactive, so no certificate renews"),
    (dict(certs=cert_lines(renewal="timer failed"), settings={"renew_name": "renew-certs"}),
     "certbot renew: the systemd timer renew-certs.timer is failed"),
    (dict(certs=cert_lines(renewal="timer missing")),
     "certbot renew: not scheduled, no systemd timer sertantai-certbot-renew.timer (playbooks/site.yml schedules it)"),
    (dict(certs=cert_lines(renewal="cron missing")),
     "certbot renew: not scheduled, no cron, /etc/cron.d/sertantai-certbot-renew"),
    (dict(certs=cert_lines(renewal=None)), "certbot renew: its schedule could not be read"),
    (dict(postgres={"failed": True, "msg": "Error: No such container:\nshared_postgres"}, electric_result={"failed": True}),
     "PostgreSQL (shared_postgres): unreachable: Error: No such container: shared_postgres"),
    (dict(postgres=pg(databases=("sertantai_legal_prod",))),
     "auth database sertantai_auth_prod: missing (playbooks/site.yml creates it)"),
    (dict(postgres=pg(wal_level="replica")), "PostgreSQL wal_level is replica: Electric needs logical"),
    (dict(docker_lines=DOCKER_LINES[1:]), "nginx: container nginx not found"),
    (dict(docker_lines=["container /nginx exited none 3"] + DOCKER_LINES[1:]), "nginx: container nginx is exited"),
    (dict(docker_lines=["container /nginx running unhealthy 0"] + DOCKER_LINES[1:]), "nginx: container nginx is unhealthy"),
    (dict(docker_lines=DOCKER_LINES[:2] + [
        "volume shared_postgres_data 48032402 /var/lib/docker 100000000000 95000000000 5000000000"]),
     "disk /var/lib/docker: 95% used (more than 90%), 4.7 GB free"),
    # as df counts: ext4's blocks reserved for root are not free for PostgreSQL (86 used, 9 available of 100)
    (dict(docker_lines=DOCKER_LINES[:2] + [
        "volume shared_postgres_data 48032402 /var/lib/docker 100000000000 86000000000 9000000000"]),
     "disk /var/lib/docker: 91% used (more than 90%), 8.4 GB free"),
])
def test_each_problem_is_named_in_one_line(kwargs, expected):
    problems = report(**kwargs)["problems"]
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]
    assert "\n" not in problems[0]


def test_an_unreachable_postgres_is_one_problem_and_question_marks():
    result = report(postgres={"failed": True, "msg": "could not connect"}, electric_result={"failed": True, "msg": "x"})
    assert result["problems"] == ["PostgreSQL (shared_postgres): unreachable: could not connect"]
    legal = result["services"][0]
    assert (legal["electric"], legal["lag"], legal["database"]) == ("?", "?", "sertantai_legal_prod ?")
    assert result["shared"][0]["details"] == "UNREACHABLE: could not connect"


def test_a_read_registered_with_failed_when_false_counts_as_failed():
    # What the play registers: failed_when: false turns `failed` false and keeps the module's message.
    postgres = {"changed": False, "failed": False, "failed_when_result": False,
                "msg": "cannot read the PostgreSQL cluster: Error response from daemon: container is not running"}
    electric_result = {"changed": False, "failed": False, "failed_when_result": False, "msg": "could not read",
                       "slots": [], "waiting": [], "stale": [], "conflicts": [], "lock_holders": []}
    result = report(postgres=postgres, electric_result=electric_result)
    assert result["problems"] == ["PostgreSQL (shared_postgres): unreachable: cannot read the PostgreSQL cluster: "
                                  "Error response from daemon: container is not running"]
    assert result["services"][0]["electric"] == "?"


def test_electric_waiting_is_shown_as_waiting_with_the_lag():
    legal = report(electric_result=electric(waiting=True))["services"][0]
    assert (legal["electric"], legal["lag"]) == ("waiting", "56 bytes")


def test_a_self_signed_certificate_is_fine_where_no_certificate_is_issued():
    # certbot does not run there, so neither does its schedule.
    result = report(certs=cert_lines(legal_kind="self-signed", auth_kind="self-signed", renewal="cron missing"),
                    settings={"issue_certificates": False})
    assert result["problems"] == []
    assert result["services"][0]["certificate"] == "80 days (self-signed)"
    assert [row["shared"] for row in result["shared"]] == ["PostgreSQL", "nginx"]


@pytest.mark.parametrize("renewal, state, details", [
    ("cron active", "active", "cron, /etc/cron.d/sertantai-certbot-renew"),
    ("cron inactive", "cron not running", "cron, /etc/cron.d/sertantai-certbot-renew"),
    ("timer inactive", "inactive", "systemd timer sertantai-certbot-renew.timer"),
    ("cron missing", "NOT SCHEDULED", "cron, /etc/cron.d/sertantai-certbot-renew"),
])
def test_the_renewal_schedule_is_a_shared_row(renewal, state, details):
    row = report(certs=cert_lines(renewal=renewal))["shared"][2]
    assert row == dict(shared="certbot renew", container="-", state=state, details=details)


def test_not_up_to_date_and_leftovers_are_shown_but_not_problems():
    backend = {"up_to_date": False, "reasons": ["new image"], "leftovers": ["sertantai-legal-green"]}
    result = report(apps={"legal": app(LEGAL, backend=backend), "auth": app(AUTH)})
    assert result["problems"] == []
    assert result["components"][0]["deploy"] == "replace it: new image"
    assert result["notes"] == ["legal backend: sertantai-legal-green was left by an interrupted deploy; the next deploy removes it"]


def test_a_pending_restart_is_a_note():
    result = report(postgres=pg(pending=True))
    assert result["problems"] == []
    assert "wal_level=logical (restart pending)" in result["shared"][0]["details"]
    assert result["notes"] == ["PostgreSQL wal_level: a changed value waits for a restart of shared_postgres"]


def test_a_missing_volume_is_listed_as_missing():
    result = report(docker_lines=DOCKER_LINES[:3])
    assert result["volumes"][1] == dict(volume="sertantai-legal-electric-storage", size="missing", filesystem="-", used="-")


def test_the_disk_of_several_volumes_on_one_filesystem_is_one_problem():
    full = [line.replace("20000000000 80000000000", "95000000000 5000000000") for line in DOCKER_LINES]
    assert [p for p in report(docker_lines=full)["problems"] if p.startswith("disk")] == [
        "disk /var/lib/docker: 95% used (more than 90%), 4.7 GB free"]


@pytest.mark.parametrize("ref, tag", [
    ("ghcr.io/shotleybuilder/sertantai-legal-backend:v1", "v1"),
    ("localhost:5000/legal-backend", "latest"),
    ("localhost:5000/legal-backend:abc1234", "abc1234"),
    ("electricsql/electric@sha256:0123456789abcdef0123", "sha256:0123456789ab"),
    (None, "-"),
])
def test_image_tag(ref, tag):
    assert _status.image_tag(ref) == tag


@pytest.mark.parametrize("lines, expected", [
    (["cert a.example.com missing"], {"a.example.com": dict(kind="missing", days=None, issuer=None)}),
    (["cert a.example.com issued %d %d CN=R11,O=Let's Encrypt,C=US" % (NOW + 10 * DAY - 1, NOW)],
     {"a.example.com": dict(kind="issued", days=9, issuer="CN=R11,O=Let's Encrypt,C=US")}),
    (["cert a.example.com self-signed %d %d CN=a.example.com" % (NOW - DAY, NOW)],
     {"a.example.com": dict(kind="self-signed", days=-1, issuer="CN=a.example.com")}),
    (["", "garbage", "cert"], {}),
])
def test_parse_cert_lines(lines, expected):
    assert _status.parse_cert_lines(lines) == expected


def test_parse_docker_lines_ignores_what_it_does_not_know():
    containers, volumes = _status.parse_docker_lines(DOCKER_LINES + ["Error: No such object: x", ""])
    assert containers["nginx"] == dict(state="running", health="healthy", restarts=0)
    assert volumes["shared_postgres_data"]["bytes"] == 48032402
    assert set(volumes) == {"shared_postgres_data", "sertantai-legal-electric-storage"}


def test_the_inputs_are_not_changed():
    apps = {"legal": app(LEGAL), "auth": app(AUTH)}
    before = copy.deepcopy(apps)
    report(apps=apps)
    assert apps == before


def test_the_tag_column_names_the_build_a_moving_tag_runs():
    backend = live("sertantai-legal-blue", "backend", image="ghcr.io/o/legal-backend:latest")
    backend["build"] = "061c576"
    rows = report(apps={"legal": app(LEGAL, backend={"live": backend}), "auth": app(AUTH)})["components"]
    assert [(r["component"], r["tag"]) for r in rows if r["service"] == "legal"] == [
        ("backend", "latest (061c576)"), ("frontend", "v1"), ("electric", "v1")]


def test_the_last_deploy_of_each_service_comes_from_the_last_line_of_its_history():
    record = {"time": "2026-11-29T15:01:30Z", "service": "legal", "owner": "alice", "controller": "laptop", "run_id": "r",
              "purpose": "playbooks/deploy.yml service=legal components=backend rollback", "components": {}}
    lines = DOCKER_LINES + ["deploy legal %s" % json.dumps(record), "deploy auth {not json", "deploy"]
    assert _status.parse_deploy_lines(lines) == {"legal": record}
    result = report(docker_lines=lines)
    assert [(row["service"], row["last_deploy"]) for row in result["services"]] == [
        ("legal", "2026-11-29T15:01:30Z by alice@laptop"), ("auth", "none recorded")]
    assert result["problems"] == [], "a service never deployed by the collection is no problem"
