# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: a service's nginx routes file, and switching it safely.

The site of each service (role nginx) sends each component's traffic to ``<name>-<colour>``, the
colour read from ``<routes_dir>/<service>.conf``. Switching writes the new file in place of the old
one (atomically), proves the whole configuration with ``nginx -t`` in the running nginx, and only
then reloads it gracefully; when nginx refuses, the previous file is put back, and the running
nginx never saw the new one.
"""

from __future__ import annotations

import posixpath
import re
import time

from ansible_collections.sertantai.deploy.plugins.module_utils._commands import output
from ansible_collections.sertantai.deploy.plugins.module_utils._fleet import COLORS

COMPONENTS = ("backend", "frontend", "electric")
SERVICE_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


class RoutesError(Exception):
    pass


def render(service, colors):
    """The routes file of ``service`` for ``colors`` ({component: colour})."""
    if not SERVICE_RE.match(service or ""):
        raise RoutesError("service %r is not a service name (lower-case letters, digits and '-')" % (service,))
    lines = ["# Managed by sertantai.deploy: the live colour of each component of %s. nginx sends the" % service,
             "# traffic of a component to <container>-<colour>; a deploy switches it once the new one is healthy."]
    for component in COMPONENTS:
        if component not in colors:
            continue
        color = colors[component]
        if color not in COLORS:
            raise RoutesError("colour %r of %s is not one of %s" % (color, component, ", ".join(COLORS)))
        lines.append("set $sertantai_%s_color %s;" % (component, color))
    unknown = sorted(set(colors) - set(COMPONENTS))
    if unknown:
        raise RoutesError("unknown component(s) %s (known: %s)" % (", ".join(unknown), ", ".join(COMPONENTS)))
    return "\n".join(lines) + "\n"


def refusal(stderr):
    """nginx's own error lines ([emerg], [alert], [crit]) from ``nginx -t``."""
    lines = [line.strip() for line in (stderr or "").splitlines() if re.search(r"\[(emerg|alert|crit)\]", line)]
    return " | ".join(lines) or (stderr or "").strip() or "nginx -t failed without a message"


# The routes file is read and written with shell commands through run_command: the same code whether the module
# runs on the host (AnsibleModule.run_command) or on the controller (its commands over the task's connection).
_READ = 'if [ ! -d "$1" ]; then echo no-directory; elif [ -f "$2" ]; then echo present; cat "$2"; else echo absent; fi'
# Atomic: a new file renamed over the old one (0644: nginx's workers read it through a read-only mount).
_WRITE = 'cat > "$1.new" && chmod 0644 "$1.new" && mv -f "$1.new" "$1"'


class RoutesFile:
    """The routes file of one service in ``routes_dir``, on the host that ``run_command`` runs commands on."""

    def __init__(self, run_command, routes_dir, service):
        self.run_command = run_command
        self.directory = routes_dir
        self.path = posixpath.join(routes_dir, service + ".conf")

    def _sh(self, script, *args, data=None):
        return output(self.run_command, ["sh", "-c", script, "sh"] + list(args), data=data,
                      error=lambda message: RoutesError("%s: %s" % (self.path, message)))

    def read(self):
        """The file's content, or None when there is none. RoutesError when the directory does not exist."""
        status, _newline, content = self._sh(_READ, self.directory, self.path).partition("\n")
        if status == "no-directory":
            raise RoutesError("%s does not exist: apply the role sertantai.deploy.nginx first" % self.directory)
        return content if status == "present" else None

    def write(self, content):
        self._sh(_WRITE, self.path, data=content)

    def remove(self):
        self._sh('rm -f "$1"', self.path)


def switch(routes, content, test, reload, check_mode=False):
    """Make ``content`` the routes file ``routes`` (a RoutesFile), proven by ``test()`` before ``reload()``.

    ``test() -> (ok, stderr)`` runs ``nginx -t``; ``reload() -> (ok, stderr)`` reloads. Returns
    (changed, previous content). Raises RoutesError, with the previous file back in place, when nginx
    refuses the new one.
    """
    previous = routes.read()
    if previous == content:
        return False, previous
    if check_mode:
        return True, previous
    routes.write(content)
    ok, stderr = test()
    if not ok:
        if previous is None:
            routes.remove()
        else:
            routes.write(previous)
        what = ("nginx -t could not run in nginx's container" if "Error response from daemon" in (stderr or "")
                else "nginx -t refused the new routes")
        raise RoutesError("%s, so the previous routes were put back and nginx was not reloaded (traffic stays where "
                          "it was): %s" % (what, refusal(stderr)))
    ok, stderr = reload()
    if not ok:
        raise RoutesError("the new routes are valid and in place, but nginx did not reload: %s; reload it "
                          "(docker exec <nginx> nginx -s reload) or run the deploy again" % (stderr or "").strip())
    return True, previous


# ---------------------------------------------------------------- the reload, seen from nginx's processes

WORKER_TITLE = "nginx: worker process"
# What `ps` shows for the worker processes /proc lists, one "<pid> <command line>" per line.
LIST_PROCESSES = 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(tr "\\0" " " < "$p/cmdline" 2>/dev/null)"; done'


def parse_workers(text):
    """{pid: title} of nginx's worker processes in LIST_PROCESSES' output (the old ones say "is shutting down")."""
    workers = {}
    for line in (text or "").splitlines():
        pid, _sep, title = line.strip().partition(" ")
        title = title.strip()
        if pid.isdigit() and title.startswith(WORKER_TITLE):
            workers[int(pid)] = title
    return workers


def wait_reloaded(list_workers, before, timeout=5.0, interval=0.05, clock=time.monotonic, sleep=time.sleep):
    """Wait until nginx serves with the reloaded configuration only.

    ``nginx -s reload`` returns before the master has read the new files; then the old workers finish
    their requests in flight, which may still go to the containers of the old routes. Done when every
    worker is one started after the reload (its pid not in ``before``) and no old one is left.
    ``list_workers() -> {pid: title}``. Returns True when so, False at the timeout.
    """
    deadline = clock() + timeout
    while True:
        workers = list_workers()
        serving = set(pid for pid, title in workers.items() if title == WORKER_TITLE)
        if serving and not serving & set(before) and len(serving) == len(workers):
            return True
        if clock() >= deadline:
            return False
        sleep(interval)
