#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 qps-tune maintainers
# SPDX-License-Identifier: BSD-2-Clause
# qps_tune - a thin Ansible module around `qps-tune --json`.
#
# All tuning logic (what to check, what to write, how to journal and roll back)
# lives in qps-tune. This module only: writes the host profile file, picks the
# right command line (check mode -> `apply --dry-run`), and maps qps-tune's JSON
# to Ansible's changed / diff / failed.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: qps_tune
short_description: Run qps-tune audit, apply, rollback, probe or diagnose and report as Ansible data
version_added: "0.1.0"
description:
  - Runs C(qps-tune --json COMMAND) on the host and returns its JSON document.
  - C(apply) writes a host profile file (C(inherit PROFILE) plus per-host rules) and
    applies it; in check mode it runs C(apply --dry-run) against a private copy of
    that file and changes nothing. C(changed) is true exactly when qps-tune reports
    changed > 0 or the host profile file changed. Diff mode shows C(key = old) and
    C(key = new) per value, and the host profile file the module manages.
  - C(audit) never changes anything; exit 3 (drift) is a result, not a failure.
  - C(rollback) restores qps-tune's journal and removes the host profile file.
  - C(probe) attaches a probe for I(duration) seconds and writes its JSON to I(dest)
    (mode 0600, since a report names processes and addresses).
  - >-
    C(diagnose) watches one server (I(pid), the owner of I(port)'s listener, or the only
    process with a TCP listener) for I(duration) seconds and returns the
    C(qps-tune.diagnose/1) document in C(diagnose) - the findings that limit it, ranked,
    each with its evidence, figures and fix. It is read-only (no plan is written) and runs
    in check mode too. Exit 3 (something limits the server) is a result, not a failure;
    exit 1 or 2 (no such pid, several servers and no I(pid)/I(port), a usage error) fails
    the task with qps-tune's message, unless I(fail_on_error=false).
  - The module never writes a sysctl itself; every change goes through C(qps-tune),
    which journals the old value so that C(command=rollback) can restore it.
options:
  command:
    description: The qps-tune command.
    type: str
    required: true
    choices: [audit, apply, rollback, probe, diagnose]
  bin:
    description: Path of the qps-tune binary on the host.
    type: path
    default: /usr/sbin/qps-tune
  profile:
    description:
      - Profile name (built-in or in /etc/qps-tune/profiles) or absolute path to inherit from.
      - One word; a newline, a control character, whitespace or C(#) is refused (it would
        become a profile directive of its own).
    type: str
    default: web-10k
  overrides:
    description:
      - Per-host sysctl rules, KEY -> "OP VALUE" (OP one of C(>=), C(<=), C(=), C(in)).
      - A bare value means "= VALUE".
    type: dict
    default: {}
  extra_lines:
    description: Extra profile lines (qps-tune directives such as C(nofile >= 65536)), one line each.
    type: list
    elements: str
    default: []
  profile_file:
    description:
      - Where the host profile is kept. When unset, I(profile) is passed as is and
        I(overrides) / I(extra_lines) must be empty.
    type: path
  conns:
    description: Concurrency target (C(--conns)).
    type: int
  pid:
    description:
      - Server process to check and tune (C(--pid)).
      - For I(command=diagnose), the server to watch; mutually exclusive with I(port).
    type: int
  port:
    description:
      - For I(command=diagnose) - the server to watch is the owner of the TCP listener on
        this port (C(--port)). Without I(pid) and I(port), the only process with a TCP
        listener in the host's network namespace.
    type: int
  persist:
    description: Also persist (C(apply --persist)).
    type: bool
    default: false
  host_wide:
    description: Also set host-wide keys (C(apply --host)). Never in a container or netns test host.
    type: bool
    default: false
  state_dir:
    description:
      - qps-tune journal directory (C(--state-dir)); one per host. C(audit) reads it too
        (a listener whose backlog predates the last apply is judged from it).
    type: path
  root:
    description: Re-roots the /etc files qps-tune persists (C(--root)); tests only.
    type: path
  probe:
    description: Probe name for I(command=probe).
    type: str
  duration:
    description: Probe duration, or the length of the diagnose window, in seconds.
    type: int
    default: 10
  dest:
    description: File on the host that receives the probe's JSON report (written 0600).
    type: path
  extra_args:
    description: More qps-tune arguments, appended as is.
    type: list
    elements: str
    default: []
  fail_on_error:
    description:
      - For I(command=audit) and I(command=diagnose) - when false, a qps-tune error (or a
        missing binary) is returned in C(error) instead of failing the task (the fleet
        report lists the host as an error).
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: >-
      C(apply) runs C(qps-tune apply --dry-run) on a private copy of the host profile; C(rollback) and C(probe) do nothing;
      C(audit) and C(diagnose) are read-only and run as usual.
  diff_mode:
    support: full
    details: >-
      Values as C(key = old) / C(key = new), and the host profile file. Files that qps-tune
      persists are listed by path and size, never with their contents.
  platform:
    platforms: debian
notes:
  - The role M(qps_tune.qps_tune.qps_tune) wraps this module for whole fleets (install, audit report, rollback).
  - File contents are never returned; C(apply.changes[].old/new) of a persisted file are replaced by their size.
seealso:
  - name: qps-tune(8)
    description: The CLI this module runs.
    link: https://manpages.debian.org/qps-tune
author:
  - qps-tune maintainers (@qps-tune)
'''

EXAMPLES = r'''
- name: Audit a host against web-10k (never changes anything)
  qps_tune.qps_tune.qps_tune:
    command: audit
    profile: web-10k
  register: audit

- name: Apply web-10k with a per-host override and persist it
  qps_tune.qps_tune.qps_tune:
    command: apply
    profile: web-10k
    profile_file: /etc/qps-tune/ansible-{{ inventory_hostname }}.profile
    overrides:
      net.core.somaxconn: ">= 16384"
    extra_lines:
      - nofile >= 65536
    persist: true
  when: audit.drift

- name: Roll back what qps-tune applied
  qps_tune.qps_tune.qps_tune:
    command: rollback
    profile_file: /etc/qps-tune/ansible-{{ inventory_hostname }}.profile

- name: Watch the accept queues for 30 seconds
  qps_tune.qps_tune.qps_tune:
    command: probe
    probe: acceptq
    duration: 30
    dest: /var/tmp/qps-tune-acceptq.json

- name: Name what limits the server on port 8080, watching it for 5 seconds
  qps_tune.qps_tune.qps_tune:
    command: diagnose
    port: 8080
    duration: 5
    profile: web-10k
  register: diag    # diag.limited: exit 3; diag.diagnose.findings[0].fix: what to change
'''

RETURN = r'''
exit_code:
  description: qps-tune exit code (0, or 3 for an audit that found drift or a diagnose with a finding).
  type: int
  returned: when qps-tune ran
  sample: 3
cmd:
  description: The command line that ran.
  type: list
  elements: str
  returned: when qps-tune ran
  sample: [/usr/sbin/qps-tune, --json, audit, --profile, web-10k]
audit:
  description: The C(qps-tune.audit/N) document (checks, summary, host).
  type: dict
  returned: command=audit
failing:
  description: The audit checks whose status is C(fail); a C(fix) naming a profile names I(profile_file).
  type: list
  elements: dict
  returned: command=audit
drift:
  description: True when the audit found at least one failing check (exit 3); null when the audit could not run.
  type: bool
  returned: command=audit
apply:
  description: The C(qps-tune.apply/N) document (a dry run in check mode), persisted file contents replaced by their size.
  type: dict
  returned: command=apply
summary:
  description: One line per change (a key with its old and new value, or a file path and whether it was written or removed).
  type: list
  elements: str
  returned: command=apply
  sample: ["net.core.somaxconn: 128 -> 4096"]
profile_file_changed:
  description: Whether the host profile file was (or in check mode would be) rewritten.
  type: bool
  returned: command=apply
rollback:
  description: The C(qps-tune.rollback/N) document; null in check mode.
  type: dict
  returned: command=rollback
report:
  description: The probe's JSON report; null in check mode.
  type: dict
  returned: command=probe
dest:
  description: Where the probe report was written on the host.
  type: str
  returned: command=probe
diagnose:
  description:
    - The C(qps-tune.diagnose/1) document; null when diagnose could not run (I(fail_on_error=false)).
    - C(findings[]) is ranked, highest impact first, each with C(rank), C(name), C(title), C(impact)
      (0-100), C(confidence), C(evidence), C(checks), C(fix), C(figures) and C(settings);
      C(checked[]) lists every area looked at, C(probes[]) the probes used or why not.
    - A C(fix) that names the module's private copy of the host profile names I(profile_file) instead.
  type: dict
  returned: command=diagnose
  sample:
    schema: qps-tune.diagnose/1
    server: {pid: 27509, comm: qps-server, listeners: 1, listening: "127.0.0.1:8080 (backlog 16)"}
    window_s: 5
    findings:
      - rank: 1
        name: accept-queue-overflow
        title: "the accept queue of 127.0.0.1:8080 overflows: 515 connection attempts dropped in 3.9 s (backlog 16)"
        impact: 94
        confidence: high
        figures: {overflows: 515, port: 8080, backlog: 16, somaxconn: 16}
        fix: "the backlog is capped by net.core.somaxconn: raise it, then restart pid 27509 ..."
    summary: {findings: 1, limited: true, probes_unavailable: 0, areas_unseen: 0}
limited:
  description: True when diagnose found something that limits the server (exit 3); null when it could not run.
  type: bool
  returned: command=diagnose
error:
  description: Why the audit or diagnose could not run, when I(fail_on_error=false).
  type: str
  returned: on error with fail_on_error=false
stderr:
  description: qps-tune's standard error, when it failed.
  type: str
  returned: on failure
stdout:
  description: qps-tune's standard output, when it failed without printing a JSON document.
  type: str
  returned: on failure without JSON output
msg:
  description: A human summary (why a check-mode run did nothing, or what failed).
  type: str
  returned: on failure and in check mode for rollback and probe
'''

import errno
import json
import os
import re
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

OPS = ('>=', '<=', '=', 'in')
KEY_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.\-/]*(\[[0-9]+\])?$')
# a profile line is one line: no newline, CR or other control character
CTRL_RE = re.compile(r'[\x00-\x1f\x7f]')
# what `inherit` takes: one word, a name or a path, never a comment or a directive
# (fullmatch: a regex "$" also matches before a final newline)
PROFILE_RE = re.compile(r'^[^\s#\x00-\x1f\x7f]+$')
# the largest host profile the module reads back (its own file is a few hundred bytes)
MAX_PROFILE_BYTES = 1 << 20


def check_profile(name):
    """Raises ValueError unless NAME can follow `inherit ` as one word."""
    if not PROFILE_RE.fullmatch(name or ''):
        raise ValueError("invalid profile %r: one word (a name or a path) without "
                         "whitespace, '#' or control characters" % (name,))
    return name


def rule_text(key, spec):
    """'net.core.somaxconn', '>= 8192' -> 'sysctl net.core.somaxconn >= 8192'"""
    if not KEY_RE.fullmatch(key):
        raise ValueError("invalid sysctl key '%s' in overrides" % key)
    if isinstance(spec, bool):
        spec = int(spec)
    spec = str(spec).strip()
    if not spec or CTRL_RE.search(spec) or '#' in spec:
        raise ValueError("invalid rule '%s' for '%s' in overrides" % (spec, key))
    op, _, rest = spec.partition(' ')
    if op in OPS and rest.strip():
        return 'sysctl %s %s %s' % (key, op, rest.strip())
    for o in ('>=', '<=', '='):         # ">=8192" without a space
        if spec.startswith(o) and spec[len(o):].strip():
            return 'sysctl %s %s %s' % (key, o, spec[len(o):].strip())
    return 'sysctl %s = %s' % (key, spec)


def profile_text(p):
    lines = ['# Managed by Ansible (role qps_tune): host profile for this host.',
             '# Edit the inventory (qps_tune_profile, qps_tune_sysctl_overrides), not this file.',
             'inherit %s' % check_profile(p['profile'])]
    for key in sorted(p['overrides']):
        lines.append(rule_text(key, p['overrides'][key]))
    for line in p['extra_lines']:
        if CTRL_RE.search(line):
            raise ValueError("extra_lines entries must be single lines without control characters: %r" % (line,))
        lines.append(line)
    return '\n'.join(lines) + '\n'


def read_file(path):
    """The contents of the regular file PATH; None when it does not exist.
    Raises ValueError for a symlink, anything but a regular file, or a file too
    large to be ours: its contents would end up in the diff."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        if e.errno == errno.ELOOP:
            raise ValueError("'%s' is a symlink: refusing to read or replace it" % path)
        raise ValueError("cannot read '%s': %s" % (path, e.strerror))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("'%s' is not a regular file: refusing to read or replace it" % path)
        if st.st_size > MAX_PROFILE_BYTES:
            raise ValueError("'%s' is larger than %d bytes: not a host profile" % (path, MAX_PROFILE_BYTES))
        with os.fdopen(os.dup(fd), 'rb') as f:
            data = f.read(MAX_PROFILE_BYTES + 1)
        return data.decode('utf-8', 'replace')
    finally:
        os.close(fd)


def redact_files(doc):
    """Replaces the contents of persisted files in an apply document by their
    size: they are file contents, which a task result must not carry."""
    for k in ('changes', 'planned'):
        for c in (doc or {}).get(k) or []:
            if isinstance(c, dict) and c.get('kind') == 'file':
                for side in ('old', 'new'):
                    v = c.get(side)
                    if isinstance(v, str):
                        c[side] = '(%d bytes)' % len(v.encode('utf-8'))
    return doc


def replace_path(obj, old, new):
    """Every string in OBJ with OLD replaced by NEW (a private temp profile in
    an audit's `fix` hints becomes the host profile file apply writes)."""
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, list):
        return [replace_path(v, old, new) for v in obj]
    if isinstance(obj, dict):
        return dict((k, replace_path(v, old, new)) for k, v in obj.items())
    return obj


def write_atomic(module, path, content, mode=0o644):
    d = os.path.dirname(path) or '.'
    if not os.path.isdir(d):
        os.makedirs(d, 0o755)
    fd, tmp = tempfile.mkstemp(prefix='.qps_tune.', dir=d)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Runner(object):
    def __init__(self, module):
        self.m = module
        self.p = module.params
        self.tmpdir = None

    def common(self):
        a = []
        if self.p['state_dir']:
            a += ['--state-dir', self.p['state_dir']]
        if self.p['root']:
            a += ['--root', self.p['root']]
        return a

    def run(self, args, ok_rcs=(0,), timeout_note=''):
        """Runs qps-tune --json ARGS; returns (rc, doc). Fails the task (or returns
        an error doc) when rc is not in ok_rcs or stdout is not one JSON document."""
        cmd = [self.p['bin'], '--json'] + args + self.p['extra_args']
        rc, out, err = self.m.run_command(cmd, environ_update={'LC_ALL': 'C'})
        doc = None
        text = out.strip()
        if text:
            try:
                doc = json.loads(text)
            except ValueError:
                # --interval style output: one document per line, the last one is final
                try:
                    doc = json.loads(text.splitlines()[-1])
                except ValueError:
                    doc = None
        if rc in ok_rcs and isinstance(doc, dict) and 'error' not in doc:
            return rc, doc, None
        what = (doc or {}).get('error') if isinstance(doc, dict) else None
        if not what:
            what = err.strip().splitlines()[-1] if err.strip() else \
                ('no JSON on stdout' if doc is None else 'unexpected output')
        # the JSON error may be a summary ("2 errors in the plan"): add the
        # lines qps-tune printed about each cause
        details = [l[len('qps-tune: '):] if l.startswith('qps-tune: ') else l
                   for l in err.strip().splitlines() if l.strip()]
        details = [d for d in details if d != what][:6]
        msg = "qps-tune %s failed on this host (exit %d): %s" % (args[0], rc, what)
        if details:
            msg += ' (' + '; '.join(details) + ')'

        info = dict(msg=msg, exit_code=rc, cmd=cmd, stderr=err)
        if doc is None:
            # not JSON: show what came instead (a JSON document is summarised in msg
            # and may hold file contents, so it is not returned as is)
            info['stdout'] = out
        return rc, doc, info

    def fail(self, info, **extra):
        info = dict(info)
        info.update(extra)
        self.m.fail_json(**info)

    def check_bin(self):
        b = self.p['bin']
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            # audit, rollback and probe never install: say how to, once
            msg = ("qps-tune not found at '%s' on this host: install the package first "
                   "(role qps_tune.qps_tune.qps_tune with qps_tune_action=install, e.g. "
                   "playbooks/install.yml; apply.yml installs it too) or set qps_tune_bin" % b)
            if self.p['command'] == 'audit' and not self.p['fail_on_error']:
                self.m.exit_json(changed=False, error=msg, drift=None, failing=[], audit=None)
            if self.p['command'] == 'diagnose' and not self.p['fail_on_error']:
                self.m.exit_json(changed=False, error=msg, limited=None, diagnose=None)
            self.m.fail_json(msg=msg)

    def profile_arg(self, for_write):
        """Returns (profile argument, file diff or None, file changed?)."""
        p = self.p
        try:
            check_profile(p['profile'])
        except ValueError as e:
            self.m.fail_json(msg=str(e))
        if not p['profile_file']:
            if p['overrides'] or p['extra_lines']:
                self.m.fail_json(msg="overrides/extra_lines need profile_file")
            return p['profile'], None, False
        try:
            want = profile_text(p)
            have = read_file(p['profile_file'])
        except ValueError as e:
            self.m.fail_json(msg=str(e))
        changed = have != want
        diff = dict(before_header='%s (host profile)' % p['profile_file'],
                    after_header='%s (host profile)' % p['profile_file'],
                    before=have or '', after=want)
        if for_write and not self.m.check_mode:
            if changed:
                write_atomic(self.m, p['profile_file'], want)
            return p['profile_file'], diff, changed
        # check mode, audit: a private copy, nothing on the host changes
        if not changed:
            return p['profile_file'], diff, False
        self.tmpdir = tempfile.mkdtemp(prefix='qps_tune.')
        path = os.path.join(self.tmpdir, 'host.profile')
        with open(path, 'w') as f:
            f.write(want)
        return path, diff, changed

    def cleanup(self):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def profile_opts(self, prof):
        a = ['--profile', prof]
        if self.p['conns']:
            a += ['--conns', str(self.p['conns'])]
        if self.p['pid']:
            a += ['--pid', str(self.p['pid'])]
        return a

    # ---- commands
    def audit(self):
        self.check_bin()
        prof, _, _ = self.profile_arg(for_write=False)
        # --state-dir too: the journal says which listeners predate the last apply
        args = ['audit'] + self.profile_opts(prof) + self.common()
        rc, doc, err = self.run(args, ok_rcs=(0, 3))
        if err:
            if not self.p['fail_on_error']:
                self.m.exit_json(changed=False, error=err['msg'], exit_code=rc, drift=None,
                                 failing=[], audit=None, cmd=err['cmd'], stderr=err['stderr'])
            self.fail(err)
        if prof != self.p['profile_file'] and self.p['profile_file']:
            # audited against a private copy that is gone when the task ends: the
            # hints name the host profile file that apply writes
            doc = replace_path(doc, prof, self.p['profile_file'])
        failing = [c for c in doc.get('checks', []) if c.get('status') == 'fail']
        self.m.exit_json(changed=False, exit_code=rc, audit=doc, failing=failing, drift=rc == 3,
                         ansible_facts=dict(qps_tune_audit=doc))

    def apply(self):
        self.check_bin()
        prof, fdiff, fchanged = self.profile_arg(for_write=True)
        args = ['apply'] + self.profile_opts(prof) + self.common()
        if self.m.check_mode:
            args.append('--dry-run')
        if self.p['persist']:
            args.append('--persist')
        if self.p['host_wide']:
            args.append('--host')
        rc, doc, err = self.run(args)
        if err:
            self.fail(err, profile_file_changed=fchanged)
        doc = redact_files(doc)
        # a dry run lists what it would do in "planned" and reports changed 0
        if doc.get('dry_run'):
            changes = doc.get('planned', doc.get('changes', [])) or []
            n = len(changes)
        else:
            changes = doc.get('changes', []) or []
            n = doc.get('changed', len(changes)) or 0
        values = [c for c in changes if c.get('kind', 'sysctl') != 'file']
        files = [c for c in changes if c.get('kind') == 'file']
        diff = []
        if fdiff and fchanged:
            diff.append(fdiff)
        if values:
            diff.append(dict(
                before_header='runtime values (before)', after_header='runtime values (after)',
                before=''.join('%s %s = %s\n' % (c.get('kind', 'sysctl'), c.get('key'), c.get('old'))
                               for c in values),
                after=''.join('%s %s = %s\n' % (c.get('kind', 'sysctl'), c.get('key'), c.get('new'))
                              for c in values)))
        if files:
            # paths and sizes only: file contents never go into a task result
            diff.append(dict(
                before_header='persisted files (before)', after_header='persisted files (after)',
                before=''.join('file %s: %s\n' % (c.get('path') or c.get('key'), c.get('old') or 'absent')
                               for c in files),
                after=''.join('file %s: %s\n' % (c.get('path') or c.get('key'), c.get('new') or 'removed')
                              for c in files)))
        summary = ['%s: %s -> %s' % (c.get('key'), c.get('old'), c.get('new')) for c in values] + \
                  ['%s: %s' % (c.get('path') or c.get('key'), 'written' if c.get('new') else 'removed')
                   for c in files]
        self.m.exit_json(changed=bool(n > 0 or fchanged), exit_code=rc, apply=doc, diff=diff,
                         summary=summary, profile_file_changed=fchanged,
                         ansible_facts=dict(qps_tune_apply=doc))

    def rollback(self):
        self.check_bin()
        pf = self.p['profile_file']
        pf_exists = bool(pf and os.path.exists(pf))
        if self.m.check_mode:
            # qps-tune has no rollback --dry-run: say what the journal would do,
            # without reading qps-tune's journal format ourselves.
            self.m.exit_json(changed=pf_exists, skipped=False, rollback=None,
                             msg="check mode: rollback not run (qps-tune rollback has no dry run)")
        rc, doc, err = self.run(['rollback'] + self.common())
        if err:
            self.fail(err)
        restored = doc.get('restored', []) or []
        removed = doc.get('removed', []) or []
        if pf_exists:
            os.unlink(pf)
        # qps-tune reports what it restored, not what it replaced: the values
        # appear on the "after" side only; removed files go present -> removed
        files = removed + ([pf] if pf_exists else [])
        before = ''.join('file %s: present\n' % p for p in files)
        after = ''.join('file %s: removed\n' % p for p in files) + \
            ''.join('%s %s = %s\n' % (r.get('kind', 'sysctl'), r.get('key'), r.get('value'))
                    for r in restored)
        diff = []
        if restored or files:
            diff.append(dict(before_header='before rollback', after_header='after rollback (restored)',
                             before=before, after=after))
        self.m.exit_json(changed=bool(restored or removed or pf_exists), exit_code=rc, rollback=doc,
                         diff=diff, ansible_facts=dict(qps_tune_rollback=doc))

    def probe(self):
        self.check_bin()
        if not self.p['probe']:
            self.m.fail_json(msg="command=probe needs probe (acceptq, syslat, offcpu)")
        if self.m.check_mode:
            # the probe itself only observes, but its report is a file on the host
            self.m.exit_json(changed=False, skipped=True, report=None, dest=self.p['dest'],
                             msg="check mode: probe not run")
        args = ['probe', self.p['probe'], '--duration', str(self.p['duration'])]
        if self.p['pid']:
            args += ['--pid', str(self.p['pid'])]
        rc, doc, err = self.run(args)
        if err:
            self.fail(err)
        if self.p['dest']:
            # 0600: the report names processes, commands and addresses
            write_atomic(self.m, self.p['dest'], json.dumps(doc, indent=1, sort_keys=True) + '\n', mode=0o600)
        # attaching a probe observes; it changes nothing on the host
        self.m.exit_json(changed=False, exit_code=rc, report=doc, dest=self.p['dest'])

    def diagnose(self):
        self.check_bin()
        p = self.p
        if p['duration'] <= 0:
            self.m.fail_json(msg="duration must be at least 1 second for command=diagnose")
        # the fixes are decided by this host's own rules (profile + overrides):
        # a private copy of the host profile, as for audit; nothing is written
        prof, _, _ = self.profile_arg(for_write=False)
        args = ['diagnose', '--duration', str(p['duration']), '--profile', prof]
        if p['pid']:
            args += ['--pid', str(p['pid'])]
        elif p['port']:
            args += ['--port', str(p['port'])]
        # --state-dir: the audit statuses in `checks` read the journal, as audit does
        args += self.common()
        # exit 3 is a finding: a result, not an error
        rc, doc, err = self.run(args, ok_rcs=(0, 3))
        if err:
            if not p['fail_on_error']:
                self.m.exit_json(changed=False, error=err['msg'], exit_code=rc, limited=None,
                                 diagnose=None, cmd=err['cmd'], stderr=err['stderr'])
            self.fail(err)
        if prof != p['profile_file'] and p['profile_file']:
            doc = replace_path(doc, prof, p['profile_file'])
        # watching a server changes nothing on the host
        self.m.exit_json(changed=False, exit_code=rc, cmd=[p['bin'], '--json'] + args + p['extra_args'],
                         diagnose=doc, limited=rc == 3, ansible_facts=dict(qps_tune_diagnose=doc))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type='str', required=True, choices=['audit', 'apply', 'rollback', 'probe', 'diagnose']),
            bin=dict(type='path', default='/usr/sbin/qps-tune'),
            profile=dict(type='str', default='web-10k'),
            overrides=dict(type='dict', default={}),
            extra_lines=dict(type='list', elements='str', default=[]),
            profile_file=dict(type='path'),
            conns=dict(type='int'),
            pid=dict(type='int'),
            port=dict(type='int'),
            persist=dict(type='bool', default=False),
            host_wide=dict(type='bool', default=False),
            state_dir=dict(type='path'),
            root=dict(type='path'),
            probe=dict(type='str'),
            duration=dict(type='int', default=10),
            dest=dict(type='path'),
            extra_args=dict(type='list', elements='str', default=[]),
            fail_on_error=dict(type='bool', default=True),
        ),
        mutually_exclusive=[('pid', 'port')],
        supports_check_mode=True,
    )
    r = Runner(module)
    try:
        getattr(r, module.params['command'])()
    finally:
        r.cleanup()


if __name__ == '__main__':
    main()
