"""CRM fixture files for tests (the emulator's seed data, not pytest fixtures)."""

from __future__ import annotations

SMALL_FIXTURES = """\
roles:
  - {role_id: 1, name: Administrator, rights: {all: update}}
users:
  - {associate_id: 1, name: demo, password: demo, role_id: 1, group_id: 1,
     tickets: ["7T:1234abcxyzExample=="]}
application_tokens: ["1234567-1234-9876"]
activities:
  appointment:
    - {id: 41, title: Only one, status: NotStarted, associate_id: 1}
"""
"""One user (demo, its ticket and the documented application token) and one appointment, 41."""
