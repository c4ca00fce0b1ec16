"""Verify the app deploy on the server (testinfra): the end state of site.yml and what side_effect.yml recorded."""

import json
import re

CURL = "curl -sk --max-time 5 --resolve {d}:443:127.0.0.1 https://{d}{p}"


def record(host, name):
    return json.loads(host.file("/root/app_%s.json" % name).content_string)


def names(lines):
    return sorted(line.split()[0] for line in lines)


def by_name(lines):
    """{first column: second column} of `docker ps --format '{{.Names}} {{.ID}}'` (or .State) lines."""
    return dict(line.split()[:2] for line in lines)


def folded(text):
    """The output with its lines joined: Ansible folds a long failure message over lines."""
    return " ".join(text.split())


def running(host, service):
    out = host.run("docker ps --filter label=org.sertantai.service=%s --format '{{.Names}}'" % service)
    return sorted(out.stdout.split())


def test_each_component_runs_exactly_one_colour(host):
    legal = running(host, "legal")
    assert len(legal) == 3
    assert sorted(name.rsplit("-", 1)[0] for name in legal) == \
        ["sertantai-legal", "sertantai-legal-electric", "sertantai-legal-frontend"]
    assert running(host, "auth") == ["sertantai-auth-blue"]


def test_api_frontend_and_electric_answer_through_nginx(host):
    api = json.loads(host.run(CURL.format(d="legal.sertantai.test", p="/api/x")).stdout)
    assert api["service"] == "legal"
    assert "legal frontend" in host.run(CURL.format(d="legal.sertantai.test", p="/")).stdout
    health = json.loads(host.run(CURL.format(d="legal.sertantai.test", p="/electric/v1/health")).stdout)
    assert health == {"status": "active"}
    assert json.loads(host.run(CURL.format(d="auth.sertantai.test", p="/api/x")).stdout)["service"] == "auth"


def test_no_service_container_publishes_a_port_and_all_have_healthchecks(host):
    for name in running(host, "legal") + running(host, "auth"):
        info = json.loads(host.run("docker inspect %s" % name).stdout)[0]
        assert not any(info["HostConfig"]["PortBindings"].values()), name
        assert list(info["NetworkSettings"]["Networks"]) == ["infra_network"], name
        test = info["Config"]["Healthcheck"]["Test"]
        assert test[1] == ("curl" if "-electric-" in name else "wget"), (name, test)
        # The server's Docker 26 knows start_interval: checks every second until the first pass, then every 5 s.
        health = info["Config"]["Healthcheck"]
        assert (health["Interval"], health.get("StartInterval")) == (5 * 10**9, 10**9), (name, health)
        assert info["State"]["Health"]["Status"] == "healthy", name


def test_secrets_are_private_files_and_reach_the_containers(host):
    for secret in ("secret_key_base", "electric_secret"):
        f = host.file("/opt/sertantai/secrets/legal/" + secret)
        assert f.mode == 0o600 and f.user == "root"
        assert len(f.content_string.strip()) >= 40
    assert host.file("/opt/sertantai/secrets/legal").mode == 0o700


def test_secrets_stay_the_same_across_runs(host):
    sums = record(host, "secret_sums")
    assert sums["before"] and sums["before"] == sums["after"]


def test_secrets_appear_nowhere_in_a_vvv_run(host):
    result = record(host, "secrets")
    assert int(result["rc"]) == 0 and result["out_length"] > 10000
    assert result["leaks"] == {}, "secrets in the -vvv output (masked here): %s" % result["leaks"]
    assert result["registry_password_leaked"] is False


def test_a_refused_login_stops_before_anything_changes(host):
    result = record(host, "denied")
    assert int(result["rc"]) != 0
    assert "could not log in to localhost:5000" in result["out"] and "Nothing was changed" in result["out"]
    assert "expire" in result["out"]
    assert "expired-token" not in result["out"]
    assert by_name(result["before"]) == by_name(result["after"])


def test_check_only_with_a_refused_token_says_every_component_would_fail_at_the_login(host):
    result = record(host, "denied_check_only")
    assert int(result["rc"]) == 0, result["out"]
    out = result["out"]
    for component in ("backend", "frontend", "electric"):
        assert re.search(r"%s +sertantai-legal-\S+ .* fail at the registry login \(below\)" % component, out), out
    assert "leave it (up to date)" not in out
    assert "A deploy would fail at the registry login: could not log in to localhost:5000" in folded(out), out
    assert "expired-token" not in out


def test_a_deploy_while_nginx_is_stopped_is_refused_before_anything_starts(host):
    result = record(host, "nginx_stopped")
    assert int(result["rc"]) != 0
    out = folded(result["out"])
    assert ("legal: nginx (nginx) is exited, so no new container could get traffic. Nothing running was touched. "
            "Start it (docker start nginx)") in out
    assert by_name(result["before"]) == by_name(result["after"]), "no container started, stopped or removed"


def test_a_service_not_provisioned_is_refused_before_anything_starts(host):
    result = record(host, "not_provisioned")
    assert int(result["rc"]) != 0
    out = folded(result["out"])
    assert ("fresh: nginx has no site for fresh.sertantai.test on sertantai-test-mol-app "
            "(/opt/sertantai/nginx/conf.d/fresh.sertantai.test.conf), so the service is not provisioned there") in out
    assert "playbooks/site.yml" in out
    assert result["containers"] == []


def test_two_services_on_one_electric_stream_id_are_refused_before_any_change(host):
    result = record(host, "stream_conflict")
    assert int(result["rc"]) != 0
    assert "service 'auth' field 'electric.stream_id': 'legal' is already used by service 'legal'" in result["out"]
    assert "changed=0" in result["out"]
    assert by_name(result["before"]) == by_name(result["after"])


def test_frontend_only_deploy_keeps_the_backend(host):
    result = record(host, "frontend_only")
    assert int(result["rc"]) == 0
    before, after = by_name(result["before"]), by_name(result["after"])
    backend = [n for n in before if n.startswith("sertantai-legal-") and n.rsplit("-", 1)[0] == "sertantai-legal"]
    assert len(backend) == 1 and after.get(backend[0]) == before[backend[0]]
    old_frontend = [n for n in before if n.startswith("sertantai-legal-frontend-")]
    new_frontend = [n for n in after if n.startswith("sertantai-legal-frontend-")]
    assert old_frontend != new_frontend and len(new_frontend) == 1


def test_check_only_and_check_mode_change_nothing(host):
    result = record(host, "checks")
    assert int(result["check_only_rc"]) == 0 and int(result["check_rc"]) == 0
    assert "A DEPLOY WOULD" in result["check_only_out"] and "replace it" in result["check_only_out"]
    # The table says it per component; the deploy's one-line plan is not printed beside it.
    assert "Say what the deploy will do" not in result["check_only_out"]
    # check_only asks the registry too: the newer frontend under the live tag.
    assert re.search(r"frontend +sertantai-legal-frontend-(blue|green) .* replace it: a newer image in the registry \(tag v1\)",
                     result["check_only_out"]), result["check_only_out"]
    # and the last deploys from the history on the server
    assert "Last deploys (/opt/sertantai/history/legal.jsonl, newest last):" in result["check_only_out"]
    assert "scripts/deploy --service legal --rollback deploys again what ran before the last one." in folded(result["check_only_out"])
    # and shows the disk a deploy pulls onto, with the line above which it would not
    assert re.search(r"Disk of the Docker data root /var/lib/docker: \d+% used, \S+ \S+ free \(a deploy pulls nothing above 90%\)\.",
                     folded(result["check_only_out"])), result["check_only_out"]
    assert result["check_would_drop"], "check mode says what the cache clear would drop"
    # A tag the server has not pulled: reported, not pulled, and its healthcheck tool not asked for.
    assert "backend to deploy as sertantai-legal-" in folded(result["check_plan"])
    assert ("a new image (tag v1 -> v2-unpulled), the image is not on this host yet, its settings changed (environment, "
            "ports, healthcheck or resources)") in folded(result["check_plan"]), result["check_plan"]
    assert result["check_unpulled_image"] == ""
    # A newer frontend in the registry under the live tag: named, and not pulled.
    assert re.search(r"frontend to deploy as sertantai-legal-frontend-(blue|green): a newer image in the registry \(tag v1\)",
                     folded(result["check_plan"])), result["check_plan"]
    assert result["frontend_image_after"] == result["frontend_image_before"]
    # Its healthcheck tool cannot be proven without the pull, and the check says so.
    assert ("Not checked, because check mode does not pull: the healthcheck tool of the newer image in the registry "
            "under localhost:5000/sertantai-legal-frontend:v1. A run proves it after the pull") in folded(result["check_unproven"]), \
        result["check_unproven"]
    # A mistyped tag: the check fails with the registry's answer, as the run's pull would, before anything.
    typo = "localhost:5000/sertantai-legal-backend:v2-typo"
    assert int(result["typo_rc"]) != 0
    assert ("a run would fail: %s could not be pulled (no such manifest: %s). Nothing was changed on sertantai-test-mol-app"
            % (typo, typo)) in folded(result["typo_out"]), result["typo_out"]
    assert by_name(result["before"]) == by_name(result["after"])


def test_a_backend_that_never_becomes_healthy_leaves_the_old_ones_serving(host):
    # A default deploy (frontend and backend side by side): the new frontend is healthy, the new backend
    # never is, so neither gets traffic and both live containers keep serving.
    result = record(host, "never_healthy")
    assert int(result["rc"]) != 0
    out = folded(result["out"])
    assert "the new backend and frontend" in out and "did not become healthy, so no traffic moved" in out
    assert "keeps serving" in out
    assert "running migrations" in out, "the failure shows the last log lines"
    before = by_name(result["before"])
    live = dict((component, [n for n in before if n.rsplit("-", 1)[0] == base][0])
                for component, base in (("backend", "sertantai-legal"), ("frontend", "sertantai-legal-frontend")))
    who = json.loads(result["who"])
    assert who["service"] == "legal" and who["hostname"] == before[live["backend"]][:12]
    states = dict((line.split()[0], (line.split()[1], line.split()[2])) for line in result["containers"])
    for component, name in live.items():
        assert states[name] == (before[name], "running"), "the live %s is untouched" % component
        candidate = [n for n in states if n.rsplit("-", 1)[0] == name.rsplit("-", 1)[0] and n != name]
        assert [states[n][1] for n in candidate] == ["exited"], "the %s candidate is kept, stopped, for its logs" % component
        assert "set $sertantai_%s_color %s;" % (component, name.rsplit("-", 1)[1]) in result["routes"]


def test_a_backend_docker_refuses_to_create_says_so_and_leaves_the_old_one_serving(host):
    result = record(host, "not_started")
    assert int(result["rc"]) != 0
    out = folded(result["out"])
    assert "could not be started, so no traffic moved" in out and "did not become healthy" not in out
    assert "Minimum memory limit" in out, "Docker's reason is shown"
    assert "keeps serving" in out
    before, after = by_name(result["before"]), by_name(result["after"])
    live = [name for name in before if name.rsplit("-", 1)[0] == "sertantai-legal"]
    assert len(live) == 1 and after[live[0]] == before[live[0]], "the live backend is untouched"
    assert json.loads(result["who"])["hostname"] == before[live[0]][:12], "and still answers through nginx"


def test_migrate_runs_in_the_new_backend_and_logs_are_shown(host):
    result = record(host, "migrate")
    assert int(result["rc"]) == 0
    assert "migrations up to date" in result["out"]
    assert "==> sertantai-legal-" in result["out"]
    backends = [line for line in result["containers"] if line.split()[0].rsplit("-", 1)[0] == "sertantai-legal"]
    assert len(backends) == 1 and backends[0].endswith("running"), "the failed candidate was cleaned up"


def test_a_deploy_removes_the_old_images_of_the_service_beyond_those_it_keeps(host):
    result = record(host, "migrate")
    # Three images of the frontend (the live one, the one the check pushed and took back, a newer one built
    # beside): a deploy keeping 1 of each component removes the one that is neither the newest nor in use, though
    # it deployed the backend and Electric.
    said = dict(line.split() for line in result["images_after"] if line.startswith(("live ", "newest ")))
    before, after = result["images_before"], [line for line in result["images_after"] if line.startswith("sha256:")]
    assert len(set(before)) == 3 and said["live"] in before and said["newest"] in before, result
    assert sorted(after) == sorted([said["live"], said["newest"]])
    [old] = [image for image in before if image not in after]
    [pruned] = result["pruned"]
    # The YAML callback folds a long message over lines.
    assert folded(pruned).startswith("msg: removed 1 old image (sertantai-legal-frontend %s), freed up to " % old[7:19]), pruned


def test_a_disk_fuller_than_the_limit_pulls_nothing_and_touches_nothing(host):
    result = record(host, "disk")
    assert int(result["rc"]) != 0
    out = folded(result["out"])
    percent = int(result["percent"].split()[-1].rstrip("%"))
    assert re.search(r"The filesystem of the Docker data root /var/lib/docker is (\d+)% used, more than disk_max_percent=0 allows "
                     r"\(\S+ \S+ free of \S+ \S+\), so nothing was pulled\. A pull could fill it", out), out
    assert abs(int(re.search(r"data root /var/lib/docker is (\d+)% used", out).group(1)) - percent) <= 1
    assert "app_service_disk_max_percent" in out
    assert "token" not in out.split("The filesystem of the Docker data root")[1][:600], "no hint about registry tokens"
    assert result["unpulled"] == "unpulled: ", "the tag to deploy was not pulled"
    assert by_name(result["before"]) == by_name(result["after"])
    # check_only says where a deploy would stop, for every component, and why.
    assert int(result["check_only_rc"]) == 0, result["check_only_out"]
    for component in ("backend", "frontend", "electric"):
        assert re.search(r"%s +sertantai-legal-\S+ .* pull nothing: the disk is too full \(below\)" % component,
                         result["check_only_out"]), result["check_only_out"]
    assert ("A deploy would fail before it pulls: The filesystem of the Docker data root /var/lib/docker is"
            in folded(result["check_only_out"])), result["check_only_out"]


def test_a_deploy_by_tag_runs_that_tag_and_says_the_fleet_names_another(host):
    result = record(host, "tag")
    assert int(result["rc"]) == 0, result["out"]
    images = dict(line.split() for line in result["images"])
    assert images["backend"] == "localhost:5000/sertantai-legal-backend:v2-unpulled"
    assert images["frontend"] == "localhost:5000/sertantai-legal-frontend:v1", "only the components asked for"
    assert "legal: backend deployed with tag v2-unpulled, not with v1, the tag the fleet description names. The next" in folded(result["out"])
    # A tag that is not one is refused by the fleet's own rule, before the lock or anything else.
    assert int(result["bad_rc"]) != 0
    assert "the tag to deploy for legal's backend, 'v1 --rm', is not a valid image tag" in folded(result["bad_out"])
    assert re.search(r"changed=0 +unreachable=0 +failed=1", result["bad_out"]), result["bad_out"]


def test_a_rollback_goes_back_to_what_ran_before_the_last_deploy_from_the_history(host):
    result = record(host, "rollback")
    assert int(result["rc"]) == 0, result["out"]
    assert result["image"] == "localhost:5000/sertantai-legal-backend:v1"
    out = folded(result["out"])
    assert "legal: backend rolled back to v1, what ran before the last deploy that changed it (" in out, out
    assert "by root@" in out and "backend v2-unpulled, before: v1)" in out, out
    # the history on the server: private, one line per deploy; the tag deploy, then the rollback that undid it
    assert result["modes"] == ["750", "640"]
    tag_deploy, rollback = [json.loads(line) for line in result["history"]]
    assert (tag_deploy["components"]["backend"]["image"], tag_deploy["components"]["backend"]["before"]["image"]) == (
        "localhost:5000/sertantai-legal-backend:v2-unpulled", "localhost:5000/sertantai-legal-backend:v1")
    assert list(rollback["components"]) == ["backend"], "only what the last deploy replaced"
    backend = rollback["components"]["backend"]
    assert (backend["image"], backend["before"]["image"]) == ("localhost:5000/sertantai-legal-backend:v1",
                                                              "localhost:5000/sertantai-legal-backend:v2-unpulled")
    assert backend["container"] != backend["before"]["container"] and backend["image_id"].startswith("sha256:")
    assert rollback["owner"] and rollback["controller"] and "rollback" in rollback["purpose"]
    assert rollback["time"] >= tag_deploy["time"]
    # a service whose only deploy was its first: refused before anything changes
    assert int(result["first_rc"]) != 0
    assert "cannot roll back auth: backend: the last deploy that changed it (" in folded(result["first_out"]), result["first_out"]
    assert "was its first: nothing ran before it" in folded(result["first_out"])
    assert re.search(r"changed=0 +unreachable=0 +failed=1", result["first_out"]), result["first_out"]


def test_two_deploys_at_once_one_proceeds_the_other_names_the_holder(host):
    result = record(host, "race")
    assert sorted(result["rcs"]) == [0, 2]
    refused = result["outs"][result["rcs"].index(2)]
    assert "is held by" in refused and "running playbooks/deploy.yml service=legal" in refused


def test_a_killed_deploy_is_reported_then_converges(host):
    result = record(host, "killed")
    assert result["killed"] == "killed"
    assert int(result["refused_rc"]) != 0
    assert "is held by" in result["refused_out"] and "ago" in result["refused_out"]
    assert "docker_host_lock_release=true" in result["refused_out"]
    assert int(result["release_rc"]) == 0
    containers, marker, routes = result["after"].split("---")
    lines = containers.split()
    assert lines[1::2] == ["running"], "exactly one backend, running: %s" % containers
    assert marker.strip() == "kept"
    live_colour = lines[0].rsplit("-", 1)[1]
    assert "set $sertantai_backend_color %s;" % live_colour in routes


def test_electric_handover_keeps_the_slot_and_ends_active(host):
    result = record(host, "electric")
    assert int(result["rc"]) == 0
    new, logs, slot = result["after"].split("---")
    assert new.strip() and new.strip() != result["before"].strip()
    assert "created replication slot" not in logs, "the new instance reused the slot"
    assert slot.strip() == "electric_slot_legal|t"
    probes = [json.loads(line) for line in result["probes"].splitlines()]
    health = [p for p in probes if p["kind"] == "health"]
    assert health and '"active"' in health[-1]["body"]
    active = [p for p in health if p["status"] == 200]
    # The gap: the longest stretch without an active Electric (printed, not asserted).
    gaps = [b["t"] - a["t"] for a, b in zip(active, active[1:])]
    failed = len([p for p in probes if p["kind"] == "shape" and p["status"] != 200])
    print("Electric handover: longest gap without an active instance %.2f s, %d of %d shape reads failed"
          % (max(gaps or [0]), failed, len([p for p in probes if p["kind"] == "shape"])))


def test_an_electric_that_never_turns_active_hands_back_to_the_old_one(host):
    result = record(host, "electric_inactive")
    assert int(result["rc"]) != 0
    old = result["live_before"].strip()
    out = folded(result["out"])
    assert "did not become active, so Electric stays on %s (started again)" % old in out
    containers, routes = result["after"].split("---")
    states = by_name(containers.strip().splitlines())
    assert states.pop(old) == "running"
    assert list(states.values()) == ["exited"], "the new one is kept, stopped, for its logs: %s" % containers
    assert "set $sertantai_electric_color %s;" % old.rsplit("-", 1)[1] in routes
    assert json.loads(result["health"]) == {"status": "active"}


def test_clearing_electrics_cache_empties_the_storage_and_recreates_the_slot_in_the_same_volume(host):
    result = record(host, "electric_clear")
    assert int(result["rc"]) == 0, result["out"]
    live, marker, created, logs, health = (part.strip() for part in result["after"].split("---"))
    assert live and marker == "no marker", "the shape storage was emptied"
    assert created == result["before"][-1], "the same volume, not a new one"
    assert "created replication slot electric_slot_legal" in logs and "created publication electric_publication_legal" in logs
    assert json.loads(health) == {"status": "active"}


def test_a_cache_clear_refused_before_any_drop_starts_the_old_electric_again(host):
    result = record(host, "electric_clear_refused")
    assert int(result["rc"]) != 0
    old = result["live_before"].strip()
    out = folded(result["out"])
    assert "clearing Electric's cache failed before anything was dropped, so %s runs again" % old in out
    assert "nothing dropped" in out and "pid" in out, "the reset's refusal names the lock holder"
    containers, slot = result["after"].split("---")
    states = by_name(containers.strip().splitlines())
    assert states.pop(old) == "running", containers
    assert "running" not in states.values(), containers
    assert slot.strip() == "electric_slot_legal|t", "the same slot, streaming again"
    assert json.loads(result["health"]) == {"status": "active"}
