# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of sertantai.deploy.disk_room: the module's work runs on the controller and only its
commands go over the task's connection (one command: docker info, docker inspect, df), with the same
arguments, results and errors (plugin_utils/_on_controller.py).
"""

from __future__ import annotations

from ansible_collections.sertantai.deploy.plugins.modules.disk_room import module_spec, run_module
from ansible_collections.sertantai.deploy.plugins.plugin_utils._on_controller import ControllerModuleAction


class ActionModule(ControllerModuleAction):
    MODULE = "sertantai.deploy.disk_room"
    module_spec = staticmethod(module_spec)
    run_module = staticmethod(run_module)
