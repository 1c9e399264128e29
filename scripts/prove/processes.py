"""The processes a run starts, SIGKILLs and restarts: API instances and the database."""

import os
import signal
import socket
import subprocess
import threading
import time


class ApiProcess:
    """One dev server (every route plus its own jobs loop), started, SIGKILLed and restarted."""

    def __init__(self, cmd, port, log, env, name):
        self.cmd, self.port, self.log, self.env, self.name = cmd, port, log, env, name
        self.proc = None
        self.lock = threading.Lock()
        self.kills = 0
        self.failed_starts = 0

    def start(self, limit=120):
        # An instance started while the database is down may exit at once: start it again,
        # as a supervisor would.
        end = time.time() + limit
        while time.time() < end:
            with self.lock:
                self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=self.log, env=self.env)
            while time.time() < end and self.proc.poll() is None:
                with socket.socket() as s:
                    s.settimeout(0.5)
                    if s.connect_ex(("127.0.0.1", self.port)) == 0:
                        return
                time.sleep(0.1)
            self.failed_starts += 1
            time.sleep(1)
        raise SystemExit(f"{self.name} did not come up on port {self.port} in {limit}s")

    def kill(self):
        with self.lock:
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
                self.kills += 1

    def stop(self):
        with self.lock:
            if self.proc and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


class DbProcess:
    """The database (SecantusDB on disk, synced on every commit), SIGKILLed and restarted on
    the same port and data directory. The first process was started by scripts/stack.sh
    (`pid`); the restarts are ours and stopped by `stop`."""

    def __init__(self, cmd, port, pid, log):
        self.cmd, self.port, self.pid, self.log = cmd, port, pid, log
        self.proc = None
        self.kills = 0
        self.downtime = 0.0

    def kill(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        else:
            os.kill(self.pid, signal.SIGKILL)
            end = time.time() + 10
            while time.time() < end:
                with socket.socket() as s:
                    s.settimeout(0.2)
                    if s.connect_ex(("127.0.0.1", self.port)) != 0:
                        break
                time.sleep(0.05)
        self.kills += 1
        self.killed_at = time.time()

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=self.log)
        wait_port(self.port, 120)
        self.downtime += time.time() - self.killed_at

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_port(port, limit):
    end = time.time() + limit
    while time.time() < end:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port} after {limit}s")



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

