"""The ssh adapter against a real sshd on 127.0.0.1: host keys, checksums, disconnects, quoting, cleanup."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import pytest

from edgeship.targets.agent_zipapp import agent_zipapp
from edgeship.targets.base import BenchRequest
from edgeship.targets.ssh import SshTarget, SshTargetConfig
from tests.support.requirements import missing

pytestmark = pytest.mark.ssh


def ssh_target(server, **overrides) -> SshTarget:
    return SshTarget(SshTargetConfig(**server.target(python=sys.executable, **overrides)))


def leftovers(server) -> list[str]:
    from pathlib import Path

    return sorted(p.name for p in Path(server.remote_work).glob("edgeship.*"))


def test_changed_host_key_is_refused(sshd_x86, tmp_path, tiny_models, eval_request):
    from tests.support.sshd import keygen

    keygen(tmp_path / "other")
    known = tmp_path / "known_hosts"
    kind, key = (tmp_path / "other.pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{sshd_x86.port} {kind} {key}\n")
    results = ssh_target(sshd_x86, known_hosts=str(known)).bench_many(tiny_models[:1], eval_request)
    assert results[0]["status"] == "failed"
    assert "host key of 127.0.0.1" in results[0]["error"] and "refused" in results[0]["error"]


def test_unknown_host_key_is_refused_unless_trusted_on_first_use(sshd_x86, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    refused = ssh_target(sshd_x86, known_hosts=str(known)).probe()
    assert refused["status"] == "failed" and "unknown or has changed" in refused["error"]
    assert known.read_text() == ""
    trusted = ssh_target(sshd_x86, known_hosts=str(known), trust_on_first_use=True).probe()
    assert trusted["status"] == "ok", trusted.get("error")
    # Recorded (hashed, as Debian's ssh writes it): strict checking from now on.
    found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{sshd_x86.port}", "-f", str(known)],
                           capture_output=True, text=True)
    assert found.returncode == 0 and sshd_x86.host_key_pub.read_text().split()[1] in found.stdout


def test_corrupted_copy_is_caught_by_the_checksum(sshd_x86, tiny_models):
    transport = ssh_target(sshd_x86).transport
    model, fmt = tiny_models[0]
    session = transport.open()
    try:
        session.push([agent_zipapp()])  # the agent and the eval set first, each model later: every file stays checked
        session.push([model])
        # Damage the copies on the device, as a flaky link or a full SD card would.
        for name in (agent_zipapp().name, model.name):
            transport._ssh(["sh", "-c", 'printf x >> "$1"', "sh", f"{session.where}/{name}"], 30)
        result = session.run(["--model", model.name, "--format", fmt, "--min-runs", "1"], 60)
    finally:
        session.close()
    assert result["status"] == "failed"
    assert "checksum mismatch" in result["error"]
    assert model.name in result["error"] and agent_zipapp().name in result["error"]
    assert leftovers(sshd_x86) == []


def test_bench_cleans_up_and_quotes_paths(sshd_x86, tiny_models, eval_request):
    # A work dir with a space and shell metacharacters: quoted, created, never interpreted.
    from pathlib import Path

    odd = f"{sshd_x86.remote_work}/dir with space;$(touch PWNED)"
    results = ssh_target(sshd_x86, work_dir=odd).bench_many(tiny_models[:2], eval_request)
    assert [r["status"] for r in results] == ["ok", "ok"], results[0].get("error")
    assert Path(odd).is_dir() and list(Path(odd).iterdir()) == []  # the run's folder was removed
    assert not list(Path(sshd_x86.remote_work).rglob("PWNED")) and not Path("PWNED").exists()


def test_ssh_config_alias_is_honoured(sshd_x86, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(f"Host pi-alias\n  HostName 127.0.0.1\n  Port {sshd_x86.port}\n  User root\n"
                      f"  IdentityFile {sshd_x86.identity}\n  UserKnownHostsFile {sshd_x86.known_hosts}\n"
                      f"  HostKeyAlias [127.0.0.1]:{sshd_x86.port}\n")
    cfg = SshTargetConfig(name="alias", type="ssh", host="pi-alias", ssh_config=str(config), python=sys.executable,
                          work_dir=sshd_x86.remote_work)
    probe = SshTarget(cfg).probe()
    assert probe["status"] == "ok", probe.get("error")


def test_sshd_killed_mid_run_gives_failed_rows_and_no_hang(tmp_path, tiny_models):
    from tests.support.sshd import sshd_missing, start_sshd

    if reason := sshd_missing():
        missing(reason)
    server = start_sshd(tmp_path / "doomed")
    long_run = BenchRequest(eval_npz=None, warmup=1, min_runs=10**9, min_seconds=120, max_seconds=120, timeout=180)
    threading.Timer(4.0, server.stop).start()  # sshd and every session it serves
    start = time.monotonic()
    try:
        results = ssh_target(server).bench_many(tiny_models[:2], long_run)
    finally:
        server.stop()
    elapsed = time.monotonic() - start
    assert [r["status"] for r in results] == ["failed", "failed"]
    assert "127.0.0.1" in results[0]["error"]
    assert elapsed < 60, f"took {elapsed:.0f} s to notice the board went away"


def test_unreachable_host_is_a_failed_row_naming_it(tiny_models, eval_request):
    from tests.support.sshd import free_port

    if shutil.which("ssh") is None:
        missing("ssh client not installed")
    cfg = SshTargetConfig(name="gone", type="ssh", host="127.0.0.1", port=free_port(), connect_timeout=3)
    results = SshTarget(cfg).bench_many(tiny_models[:2], eval_request)
    assert [r["status"] for r in results] == ["failed", "failed"]
    assert "cannot reach 127.0.0.1" in results[0]["error"]


def test_baseline_and_candidate_are_timed_interleaved_on_the_board(sshd_x86, tiny_models, eval_request):
    from tests.devices.conftest import assert_times_interleaved

    target = ssh_target(sshd_x86)
    assert_times_interleaved(target, tiny_models, eval_request)
    assert leftovers(sshd_x86) == []
