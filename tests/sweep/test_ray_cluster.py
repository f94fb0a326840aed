"""``wnrl sweep --backend ray --address`` against a Ray head that ``ray start --head`` runs in
another process, on 127.0.0.1 only: Ray's token authentication (the token exported as Ray
documents it, or a one-line error saying so), and a cell whose worker process is killed
mid-run resumes from its checkpoint when Ray retries it, with no log row lost or repeated.

Every process these tests start runs in its own session (process group) and only those
processes are stopped, by their ids; no traffic leaves 127.0.0.1 (the head is skipped, with the
reason, where Ray would advertise another address)."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnrl.errors import ConfigError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed"
)

LOOPBACK = "127.0.0.1"
HP = [
    "--hp", "learning_starts=100", "train_freq=4", "gradient_steps=1", "buffer_size=1000",
    "policy_kwargs.net_arch=[32,32]",
]  # fmt: skip
STEPS, CHECKPOINT_EVERY, EVAL_EVERY = 6000, 250, 500
KILL_AFTER = 1500  # the worker is killed once it has checkpointed at least this step
#: what every process of these tests gets besides the token: no usage stats, workers at normal
#: priority (Ray's default nice 15 waits behind every other job of a busy machine), one thread,
#: and Ray's single-machine mode, the one setting that keeps the head's advertised address on
#: 127.0.0.1 (`ray start --node-ip-address 127.0.0.1` alone is replaced by the eth0 address)
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_worker_niceness": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "OMP_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (those a session leader we started left)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            fields = _stat(int(entry.name))
            if fields and fields[0] != "Z" and int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def descends_from(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        if pid == ancestor:
            return True
        fields = _stat(pid)
        if not fields or int(fields[1]) <= 1:
            return False
        pid = int(fields[1])
    return False


def stop_group(process: subprocess.Popen, grace: float = 30.0) -> None:
    """Stop ``process`` (a session leader we started) and the processes of its group, by id:
    those there before it is asked to stop that are still there after ``grace`` seconds."""
    members = set(group_members(process.pid))
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # `ray start --block` stops the head's processes
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)
    deadline = time.time() + grace
    while members & set(group_members(process.pid)) and time.time() < deadline:
        time.sleep(0.5)
    for pid in members & set(group_members(process.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Head:
    """A Ray head started by ``ray start --head --block`` in its own session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("RAY_AUTH") and key != "RAY_ADDRESS"
        }
        self.env.update(RAY_ENV)
        self.env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token)
        self.log = root / "head.log"
        command = [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
            "--node-ip-address", LOOPBACK, "--port", str(self.port),
            "--ray-client-server-port", str(free_port()), "--dashboard-port", str(free_port()),
            "--include-dashboard", "false", "--num-cpus", "2", "--temp-dir", str(root / "ray"),
            "--disable-usage-stats",
        ]  # fmt: skip
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_started(self, timeout: float = 180.0) -> str:
        """The node IP the head advertises, once it says it started."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log.read_text()
            if "Ray runtime started" in text:
                found = re.search(r"Local node IP: (\S+)", text)
                return found.group(1) if found else "?"
            if self.process.poll() is not None:
                pytest.fail(f"ray start --head exited {self.process.returncode}:\n{text[-3000:]}")
            time.sleep(0.5)
        pytest.fail(f"ray start --head did not start in {timeout:.0f}s:\n{text[-3000:]}")

    def owns(self, pid: int) -> bool:
        fields = _stat(pid)
        return bool(fields) and (
            int(fields[2]) == self.process.pid or descends_from(pid, self.process.pid)
        )


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    if not sys.platform.startswith("linux"):
        pytest.skip("finds the head's processes in /proc (Linux)")
    root = Path(tempfile.mkdtemp(prefix="wnrl-ray-", dir="/tmp"))  # short: Ray's socket paths
    started = None
    try:
        started = Head(root)
        ip = started.wait_started()
        if ip != LOOPBACK:
            pytest.skip(
                f"the Ray head advertises {ip}, not {LOOPBACK}: "
                "Ray cannot be confined to loopback here"
            )
        yield started
    finally:
        if started is not None:
            stop_group(started.process)
        shutil.rmtree(root, ignore_errors=True)


def sweep_command(head: Head, logdir: Path) -> list[str]:
    return [
        sys.executable, "-m", "wnrl", "sweep", "CartPole-v1", "--agent", "dqn", "--norm", "wn",
        "--seeds", "1", "--steps", str(STEPS), "--eval-every", str(EVAL_EVERY),
        "--eval-episodes", "2", "--checkpoint-every", str(CHECKPOINT_EVERY),
        "--logdir", str(logdir), "--backend", "ray", "--address", head.address,
        "--cpus-per-run", "1", *HP,
    ]  # fmt: skip


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def logged_steps(path: Path) -> list[int]:
    """The steps of the complete rows of a progress.csv being written."""
    lines = path.read_text().splitlines(keepends=True)
    complete = [line for line in lines if line.endswith("\n")]
    steps = []
    for row in csv.DictReader(complete):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            steps.append(int(row["time/total_timesteps"]))
    return steps


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("wnrl: error: ")]


@pytest.mark.slow
def test_killed_worker_is_retried_by_ray_and_resumes_from_its_checkpoint(
    head: Head, tmp_path: Path
) -> None:
    logdir = tmp_path / "sweep"
    run_dir = logdir / "CartPole-v1" / "dqn-wn-s0"
    sweep = subprocess.Popen(
        sweep_command(head, logdir), env=head.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        # the worker training the cell, once it has written a checkpoint (and is not done)
        deadline = time.time() + 150
        killed = None
        while time.time() < deadline and sweep.poll() is None:
            latest = run_dir / "checkpoints" / "latest"
            lock = run_dir / ".wnrl.lock"
            with contextlib.suppress(OSError, ValueError, IndexError):
                checkpoint = int(latest.read_text().strip().split("-")[1])
                holder = lock.read_text().strip()
                logged = logged_steps(run_dir / "progress.csv")
                # past a checkpoint, with a row logged after it (the resume must drop it)
                if checkpoint >= KILL_AFTER and max(logged, default=0) > checkpoint:
                    if holder.isdigit() and not (run_dir / "model.zip").exists():
                        killed = int(holder)
                        break
            time.sleep(0.1)
        assert killed is not None, (
            f"no checkpoint in time: {sweep.poll()} {list(logdir.rglob('*'))}"
        )
        assert head.owns(killed), f"pid {killed} is not a process of the Ray head we started"
        os.kill(killed, signal.SIGKILL)
        out, err = sweep.communicate(timeout=240)
    finally:
        if sweep.poll() is None:
            stop_group(sweep, grace=10)
    assert sweep.returncode == 0, out + err

    # every node of the cluster is on loopback, as the sweep reported it
    nodes = re.search(r"^ray: the cluster at (\S+): (\d+) nodes? \(([^)]*)\)", out, re.M)
    assert nodes and nodes.group(1) == head.address, out
    assert int(nodes.group(2)) >= 1 and set(nodes.group(3).split(", ")) == {LOOPBACK}
    cell = next(line for line in out.splitlines() if line.startswith("[1/1]"))
    status, done_steps = cell.split()[1], int(cell.split()[4].replace(",", ""))
    assert status == "resumed" and STEPS <= done_steps < STEPS + 4, out  # train_freq 4

    log = (logdir / "CartPole-v1" / "dqn-wn-s0.log").read_text()
    assert log.count("=== wnrl sweep:") == 2  # the killed worker, then Ray's retry
    resumed = re.search(r"resuming from step-(\d+)", log)
    assert resumed, log
    step = int(resumed.group(1))
    assert KILL_AFTER <= checkpoint <= step < STEPS and step % CHECKPOINT_EVERY == 0
    dropped = re.search(r"dropped (\d+) progress.csv row", log)
    assert dropped and int(dropped.group(1)) >= 1, log  # what the killed worker logged past it

    # no evaluation lost or repeated, and the progress rows of both processes in order, once
    evaluations = [int(row["step"]) for row in csv_rows(run_dir / "evaluations.csv")]
    final = [done_steps] if done_steps % EVAL_EVERY else []  # the run ends with an evaluation
    assert evaluations == [*range(EVAL_EVERY, STEPS + 1, EVAL_EVERY), *final]
    progress = csv_rows(run_dir / "progress.csv")
    evaluated = [int(row["time/total_timesteps"]) for row in progress if row["eval/mean_reward"]]
    assert evaluated == evaluations
    trained = [row for row in progress if row["time/episodes"]]  # SB3's every log_interval
    steps = [int(row["time/total_timesteps"]) for row in trained]
    episodes = [int(row["time/episodes"]) for row in trained]
    assert steps == sorted(set(steps)) and steps[0] < step < steps[-1], steps
    gaps = {b - a for a, b in zip(episodes, episodes[1:], strict=False)}
    assert gaps == {episodes[0]}, episodes  # the episode count goes on: no row lost or repeated
    assert (run_dir / "model.zip").is_file()


@pytest.mark.slow
def test_a_driver_without_the_token_or_with_another_is_a_one_line_error(
    head: Head, tmp_path: Path
) -> None:
    """Without RAY_AUTH_MODE=token (Ray never sends the token to an explicit address then), and
    with a wrong token: exit 2, one line saying what to export. Both drivers run at once (Ray
    retries for about 20 s before it gives up)."""
    plain = {key: value for key, value in head.env.items() if not key.startswith("RAY_AUTH")}
    drivers = {
        "no mode": plain,
        "wrong token": {**plain, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "not-" + head.token},
    }
    running = {
        case: subprocess.Popen(
            sweep_command(head, tmp_path / case.replace(" ", "-")),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        for case, env in drivers.items()
    }
    results = {}
    try:
        for case, process in running.items():
            results[case] = (*process.communicate(timeout=180), process.returncode)
    finally:
        for process in running.values():
            if process.poll() is None:
                stop_group(process, grace=10)
    for case, (out, err, code) in results.items():
        assert code == 2, f"{case}: {out}{err}"
        [line] = error_lines(err)
        assert "ray get-auth-token" in line and "RAY_AUTH_TOKEN" in line, line
    [line] = error_lines(results["no mode"][1])
    assert f"the Ray cluster at {head.address} wants its authentication token" in line
    assert "export RAY_AUTH_MODE=token" in line
    [line] = error_lines(results["wrong token"][1])
    assert f"the Ray cluster at {head.address} refused the token from RAY_AUTH_TOKEN" in line


def test_nothing_at_the_address_is_a_one_line_error_at_once(tmp_path: Path, capsys) -> None:
    from wnrl.cli import main as wnrl_main

    address = f"{LOOPBACK}:{free_port()}"  # nothing listens there
    start = time.time()
    argv = ["sweep", "CartPole-v1", "--norm", "wn", "--seeds", "1", "--steps", "300"]
    assert (
        wnrl_main([*argv, "--logdir", str(tmp_path), "--backend", "ray", "--address", address]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no Ray cluster answers at {address}" in err, err
    assert "ray start --head --port" in err and time.time() - start < 30


def test_auth_messages_say_what_to_export(monkeypatch) -> None:
    import ray

    from wnrl.sweep.ray_executor import auth_message, auth_refused, host_port

    refused = RuntimeError(
        "Failed to connect to GCS. Last connection error: Traceback ...\n"
        "ray.exceptions.AuthenticationError: RPC error: InvalidAuthToken: Authentication token "
        "is missing or incorrect."
    )
    wrapped = ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379")
    wrapped.__cause__ = refused
    assert auth_refused(wrapped) and not auth_refused(ConnectionError("timed out"))
    if hasattr(ray.exceptions, "AuthenticationError"):
        assert auth_refused(ray.exceptions.AuthenticationError("no token"))
    for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(key, raising=False)
    message = auth_message("10.0.0.1:6379", wrapped)
    assert "export RAY_AUTH_MODE=token" in message and "RAY_AUTH_MODE=disabled" in message
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "wrong")
    assert "refused the token from RAY_AUTH_TOKEN" in auth_message("10.0.0.1:6379", wrapped)
    missing = ConnectionError(
        "Token authentication is enabled but no authentication token was found"
    )
    assert "Ray found no token" in auth_message("10.0.0.1:6379", missing)
    for message in (auth_message("h:1", wrapped), auth_message("h:1", missing)):
        assert "\n" not in message and "ray get-auth-token" in message
    assert host_port("10.0.0.1:6379") == ("10.0.0.1", 6379)
    assert host_port("ray://head:10001") == ("head", 10001)
    assert host_port("[::1]:6379") == ("::1", 6379)
    assert host_port("auto") is None and host_port("local") is None
    with pytest.raises(ConfigError, match="no Ray cluster answers"):
        from wnrl.sweep.ray_executor import check_reachable

        check_reachable(f"{LOOPBACK}:{free_port()}")
