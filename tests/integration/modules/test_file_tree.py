"""file_tree through ansible (its action plugin renders templates): many paths in one module run."""

from __future__ import annotations

import os
import stat

from tests.support.ansible import run_module


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def tree(tmp_path):
    template = tmp_path / "site.conf.j2"
    template.write_text("{{ ansible_managed | comment }}\nserver_name {{ item.domain }};\n")
    conf = tmp_path / "conf.d"
    return conf, [
        dict(path=str(conf), state="directory", mode="0755"),
        dict(path=str(tmp_path / "certs"), state="directory", mode="0700"),
        dict(path=str(conf / "a.conf"), template=str(template), vars=dict(item=dict(domain="a.example.com")), mode="0644"),
        dict(path=str(conf / "b.conf"), content="plain\n"),
        dict(path=str(tmp_path / "certs" / "fullchain.pem"), state="link", src="/etc/letsencrypt/live/a/fullchain.pem"),
    ]


def test_creates_then_changes_nothing(tmp_path):
    conf, entries = tree(tmp_path)
    first = run_module("file_tree", dict(entries=entries, exists=[str(conf / "a.conf"), str(conf / "nothing")]))
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and len(first["changed_paths"]) == 5
    assert first["exists"] == {str(conf / "a.conf"): True, str(conf / "nothing"): False}
    text = (conf / "a.conf").read_text()
    assert text.startswith("#") and "server_name a.example.com;\n" in text
    assert mode(conf) == 0o755 and mode(tmp_path / "certs") == 0o700 and mode(conf / "a.conf") == 0o644
    assert os.readlink(tmp_path / "certs" / "fullchain.pem") == "/etc/letsencrypt/live/a/fullchain.pem"
    again = run_module("file_tree", dict(entries=entries, exists=[str(conf / "a.conf"), str(conf / "nothing")]))
    assert not again["changed"] and again["changed_paths"] == []
    assert again["exists"] == first["exists"]
    # Everything in place: one read over the connection told so, and no module ran on the host.
    assert "invocation" in first and "invocation" not in again


def test_what_the_read_finds_out_of_place_goes_to_the_module(tmp_path):
    conf, entries = tree(tmp_path)
    run_module("file_tree", dict(entries=entries))
    changes = [
        lambda: os.chmod(conf / "a.conf", 0o600),                                   # mode
        lambda: (conf / "b.conf").write_text("edited by hand\n"),                  # content
        lambda: (os.unlink(tmp_path / "certs" / "fullchain.pem"),
                 os.symlink("/elsewhere", tmp_path / "certs" / "fullchain.pem")),   # link target
        lambda: (conf / "stray.conf").write_text("x\n"),                          # to purge
    ]
    for change in changes:
        change()
        fixed = run_module("file_tree", dict(entries=entries, purge=[str(conf)]))
        assert fixed["changed"] and "invocation" in fixed, fixed
        assert not run_module("file_tree", dict(entries=entries, purge=[str(conf)]))["changed"]
    assert mode(conf / "a.conf") == 0o644 and (conf / "b.conf").read_text() == "plain\n"
    assert os.readlink(tmp_path / "certs" / "fullchain.pem") == "/etc/letsencrypt/live/a/fullchain.pem"
    assert not (conf / "stray.conf").exists()
    # A symbolic mode is the module's to compare.
    symbolic = run_module("file_tree", dict(entries=[dict(entries[0], mode="u=rwx,g=rx,o=rx")]))
    assert not symbolic["changed"] and "invocation" in symbolic


def test_purge_removes_what_no_entry_names_and_check_mode_writes_nothing(tmp_path):
    conf, entries = tree(tmp_path)
    run_module("file_tree", dict(entries=entries))
    (conf / "gone.example.com.conf").write_text("old site\n")
    changed = [dict(entries[3], content="new\n")]
    check = run_module("file_tree", dict(entries=entries[:3] + changed, purge=[str(conf)]), check=True, diff=True)
    assert check["changed"] and check["changed_paths"] == [str(conf / "b.conf")]
    assert check["purged"] == [str(conf / "gone.example.com.conf")]
    assert (conf / "b.conf").read_text() == "plain\n" and (conf / "gone.example.com.conf").exists()
    assert any(d.get("after") == "new\n" for d in check["diff"])
    done = run_module("file_tree", dict(entries=entries[:3] + changed, purge=[str(conf)]))
    assert done["changed"] and (conf / "b.conf").read_text() == "new\n"
    assert not (conf / "gone.example.com.conf").exists() and (conf / "a.conf").exists()


def test_refuses_to_replace_a_directory_and_hides_sensitive_content(tmp_path):
    (tmp_path / "dir").mkdir()
    refused = run_module("file_tree", dict(entries=[dict(path=str(tmp_path / "dir"), state="absent")]))
    assert refused["failed"] and "is a directory" in refused["msg"] and (tmp_path / "dir").is_dir()
    secret = run_module("file_tree", dict(entries=[dict(path=str(tmp_path / "s"), content="hunter2\n", sensitive=True)]),
                        diff=True)
    # The diff shows no content (the task's own arguments are hidden by no_log, as for any module).
    assert "hunter2" not in str(secret["diff"]) and (tmp_path / "s").read_text() == "hunter2\n"
