"""_nginx: the routes file, and a switch that puts the old file back when nginx refuses the new one."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _nginx
from tests.support.docker import subprocess_run_command


def test_render_names_each_component_colour():
    text = _nginx.render("legal", {"frontend": "blue", "backend": "green"})
    assert text.splitlines()[2:] == ["set $sertantai_backend_color green;", "set $sertantai_frontend_color blue;"]


@pytest.mark.parametrize("service, colors, fragment", [
    ("Legal", {"backend": "blue"}, "not a service name"),
    ("legal", {"backend": "red"}, "colour 'red' of backend"),
    ("legal", {"api": "blue"}, "unknown component(s) api"),
])
def test_render_refuses_bad_input(service, colors, fragment):
    with pytest.raises(_nginx.RoutesError) as err:
        _nginx.render(service, colors)
    assert fragment in str(err.value)


class Nginx:
    def __init__(self, test_ok=True, reload_ok=True):
        self.test_ok, self.reload_ok, self.calls, self.seen = test_ok, reload_ok, [], None

    def test(self, path):
        def run():
            self.calls.append("test")
            self.seen = open(path, encoding="utf-8").read()
            return self.test_ok, "" if self.test_ok else 'nginx: [emerg] unknown "sertantai_x_color" variable\nnginx: configuration file test failed'
        return run

    def reload(self):
        self.calls.append("reload")
        return self.reload_ok, "" if self.reload_ok else "signal process started; error"


def routes(tmp_path):
    """The routes file of legal in tmp_path, read and written by the real shell commands."""
    return _nginx.RoutesFile(subprocess_run_command, str(tmp_path), "legal")


def test_switch_proves_then_reloads_and_a_repeat_changes_nothing(tmp_path):
    path = str(tmp_path / "legal.conf")
    nginx = Nginx()
    new = _nginx.render("legal", {"backend": "green"})
    assert _nginx.switch(routes(tmp_path), new, nginx.test(path), nginx.reload) == (True, None)
    assert nginx.calls == ["test", "reload"] and nginx.seen == new
    assert oct(os.stat(path).st_mode & 0o777) == "0o644" and not os.path.exists(path + ".new")
    assert _nginx.switch(routes(tmp_path), new, nginx.test(path), nginx.reload) == (False, new)
    assert nginx.calls == ["test", "reload"]


def test_a_refused_file_is_replaced_by_the_previous_one_and_nginx_not_reloaded(tmp_path):
    path = str(tmp_path / "legal.conf")
    old = _nginx.render("legal", {"backend": "blue"})
    (tmp_path / "legal.conf").write_text(old)
    nginx = Nginx(test_ok=False)
    with pytest.raises(_nginx.RoutesError) as err:
        _nginx.switch(routes(tmp_path), _nginx.render("legal", {"backend": "green"}), nginx.test(path), nginx.reload)
    assert str(err.value).startswith("nginx -t refused the new routes, so the previous routes were put back")
    assert 'unknown "sertantai_x_color" variable' in str(err.value)
    assert nginx.calls == ["test"] and open(path, encoding="utf-8").read() == old


def test_a_stopped_nginx_is_not_reported_as_a_refusal(tmp_path):
    path = str(tmp_path / "legal.conf")
    old = _nginx.render("legal", {"backend": "blue"})
    (tmp_path / "legal.conf").write_text(old)
    stopped = "Error response from daemon: container 36f63ee260ed is not running"
    with pytest.raises(_nginx.RoutesError) as err:
        _nginx.switch(routes(tmp_path), _nginx.render("legal", {"backend": "green"}), lambda: (False, stopped),
                      Nginx().reload)
    assert str(err.value) == ("nginx -t could not run in nginx's container, so the previous routes were put back "
                              "and nginx was not reloaded (traffic stays where it was): " + stopped)
    assert open(path, encoding="utf-8").read() == old


def test_a_refused_first_file_is_removed(tmp_path):
    path = str(tmp_path / "legal.conf")
    nginx = Nginx(test_ok=False)
    with pytest.raises(_nginx.RoutesError):
        _nginx.switch(routes(tmp_path), _nginx.render("legal", {"backend": "green"}), nginx.test(path), nginx.reload)
    assert not (tmp_path / "legal.conf").exists()


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / "legal.conf")
    nginx = Nginx()
    assert _nginx.switch(routes(tmp_path), "x", nginx.test(path), nginx.reload, check_mode=True) == (True, None)
    assert nginx.calls == [] and not (tmp_path / "legal.conf").exists()


def test_a_failed_reload_says_what_to_do(tmp_path):
    path = str(tmp_path / "legal.conf")
    with pytest.raises(_nginx.RoutesError) as err:
        _nginx.switch(routes(tmp_path), "x", Nginx().test(path), Nginx(reload_ok=False).reload)
    assert "nginx -s reload" in str(err.value)


def test_a_missing_routes_directory_says_which_role_makes_it(tmp_path):
    missing = _nginx.RoutesFile(subprocess_run_command, str(tmp_path / "none"), "legal")
    with pytest.raises(_nginx.RoutesError, match="none does not exist: apply the role sertantai.deploy.nginx first"):
        _nginx.switch(missing, "x", Nginx().test(str(tmp_path / "none" / "legal.conf")), Nginx().reload)


def test_the_file_is_read_back_exactly_as_written(tmp_path):
    # no newline added or lost on the way (AnsibleModule.run_command adds one to text stdin)
    for content in ("a\nb\n", "no newline at the end", "\n\nblank lines first\n\n"):
        routes(tmp_path).write(content)
        assert routes(tmp_path).read() == content
    routes(tmp_path).remove()
    assert routes(tmp_path).read() is None


def test_parse_workers_keeps_the_worker_processes_only():
    text = ("1 nginx: master process nginx -g daemon off; \n"
            "23 nginx: worker process \n"
            "7 nginx: worker process is shutting down \n"
            "31 sh -c for p in /proc/[0-9]*; do ...\n"
            "self \n")
    assert _nginx.parse_workers(text) == {23: "nginx: worker process", 7: "nginx: worker process is shutting down"}


def test_wait_reloaded_waits_for_new_workers_and_the_old_ones_to_finish():
    old = {6: "nginx: worker process", 7: "nginx: worker process"}
    seen = iter([
        old,                                                                   # the master has not read the files yet
        {6: "nginx: worker process is shutting down", 23: "nginx: worker process"},  # an old one finishes a request
        {23: "nginx: worker process", 24: "nginx: worker process"},
    ])
    clock = iter(range(100))
    sleeps = []
    assert _nginx.wait_reloaded(lambda: next(seen), old, timeout=10, clock=lambda: next(clock), sleep=sleeps.append)
    assert len(sleeps) == 2


def test_wait_reloaded_gives_up_at_the_timeout():
    old = {6: "nginx: worker process"}
    clock = iter([0, 1, 2, 3, 4, 5, 6])
    assert not _nginx.wait_reloaded(lambda: old, old, timeout=3, clock=lambda: next(clock), sleep=lambda _s: None)
