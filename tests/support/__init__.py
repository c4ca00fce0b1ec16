"""Helpers shared by the test suites: real Docker, real Ansible, nothing mocked."""
