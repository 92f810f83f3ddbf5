"""The x86 test target under QEMU (TCG): its boot loader and a handle on the running system.

The boot loader of the test target runs here, before each power-on, the way U-Boot's RAUC script
does on a board: it reads BOOT_ORDER / BOOT_A_LEFT / BOOT_B_LEFT from the first block of the disk's
first partition, takes the first slot in the order with tries left, counts one try down, writes
the state back and starts the kernel with root=<slot's partition> rauc.slot=<slot>. With no slot
left it gives every slot its tries back and boots the first (as the U-Boot script resets).

QEMU runs with -no-reboot: a reboot in the guest ends the QEMU process and the test "powers on"
again with VM.boot(), which runs the boot loader once more.
"""

import base64
import os
import select
import shutil
import socket
import subprocess
import time

ENV_OFFSET = 1024 * 1024  # partition 1 starts at 1 MiB
ENV_SIZE = 4096
TRIES = 3
SLOT_PART = {"A": 2, "B": 3}


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v
    return env


def read_boot_env(disk):
    with open(disk, "rb") as f:
        f.seek(ENV_OFFSET)
        raw = f.read(ENV_SIZE).split(b"\0", 1)[0].decode()
    env = {"BOOT_ORDER": "A B", "BOOT_A_LEFT": str(TRIES), "BOOT_B_LEFT": str(TRIES)}
    for line in raw.splitlines():
        k, _, v = line.partition("=")
        if k in env:
            env[k] = v
    return env


def write_boot_env(disk, env):
    text = "".join(f"{k}={env[k]}\n" for k in ("BOOT_ORDER", "BOOT_A_LEFT", "BOOT_B_LEFT"))
    data = text.encode().ljust(ENV_SIZE, b"\0")
    with open(disk, "r+b") as f:
        f.seek(ENV_OFFSET)
        f.write(data)


def choose_slot(disk):
    """The boot loader's choice; returns the slot name and writes the counted-down state."""
    env = read_boot_env(disk)
    for slot in env["BOOT_ORDER"].split():
        key = f"BOOT_{slot}_LEFT"
        if slot in SLOT_PART and int(env.get(key, "0")) > 0:
            env[key] = str(int(env[key]) - 1)
            write_boot_env(disk, env)
            return slot
    env["BOOT_A_LEFT"] = env["BOOT_B_LEFT"] = str(TRIES)
    slot = env["BOOT_ORDER"].split()[0]
    env[f"BOOT_{slot}_LEFT"] = str(TRIES - 1)
    write_boot_env(disk, env)
    return slot


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VM:
    """One test target: a private copy of the image's disk, booted as often as a test needs."""

    def __init__(self, image_env, workdir, mem=1024):
        self.image = read_env_file(image_env)
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.disk = os.path.join(workdir, "disk.img")
        subprocess.run(["cp", "--sparse=always", self.image["IMAGE_DISK"], self.disk], check=True)
        self.mem = mem
        self.port = free_port()
        self.proc = None
        self.agent = None
        self.buf = b""
        self.boots = []  # (slot, t_start)
        self.console = os.path.join(workdir, "console.log")

    # -- power ------------------------------------------------------------------------------------
    def boot(self, slot=None):
        """Power on. The boot loader picks the slot unless one is forced."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.close_agent()
        if slot is None:
            slot = choose_slot(self.disk)
        part = SLOT_PART[slot]
        sock = os.path.join(self.workdir, "agent.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        append = (f"console=ttyS0 root=/dev/vda{part} rauc.slot={slot} panic=-1 fsck.repair=yes quiet loglevel=3 "
                  "systemd.show_status=false")
        args = [
            os.environ.get("RIG_QEMU", "qemu-system-x86_64"),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "1", "-m", str(self.mem),
            "-kernel", self.image["IMAGE_KERNEL"], "-initrd", self.image["IMAGE_INITRD"],
            "-append", append,
            "-drive", f"file={self.disk},if=virtio,format=raw,cache=unsafe",
            "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{self.port}-:38088",
            "-device", "virtio-net-pci,netdev=n0",
            # the board's serial number (the USB gadget derives its MAC addresses from it)
            "-smbios", "type=1,serial=CS-TEST-0001",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent,path={sock},server=on,wait=off",
            "-device", "virtserialport,chardev=agent,name=agent",
            "-serial", f"file:{self.console}.{len(self.boots)}",
        ]
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.workdir, "qemu.err"), "ab"))
        self.boots.append(slot)
        self.slot = slot
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("qemu did not start: " + self.qemu_err())
            time.sleep(0.05)
        return slot

    def qemu_err(self):
        try:
            with open(os.path.join(self.workdir, "qemu.err")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def console_text(self, boot=-1):
        n = len(self.boots) - 1 if boot == -1 else boot
        try:
            with open(f"{self.console}.{n}", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_off(self, timeout):
        """Wait for the guest to power off or reboot (QEMU exits); True if it did."""
        try:
            self.proc.wait(timeout=timeout)
            self.close_agent()
            return True
        except subprocess.TimeoutExpired:
            return False

    def power_off(self):
        """Pull the plug."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.close_agent()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- the agent --------------------------------------------------------------------------------
    def close_agent(self):
        if self.agent:
            self.agent.close()
            self.agent = None
        self.buf = b""

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the guest agent")
            r, _, _ = select.select([self.agent], [], [], min(left, 1.0))
            if r:
                chunk = self.agent.recv(65536)
                if not chunk:
                    raise ConnectionError("guest agent closed the port")
                self.buf += chunk
            elif not self.running():
                raise ConnectionError("the VM stopped")
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def wait_agent(self, timeout=180):
        """Wait until the guest's agent is up; returns seconds since power-on."""
        sock = os.path.join(self.workdir, "agent.sock")
        deadline = time.monotonic() + timeout
        self.agent = socket.socket(socket.AF_UNIX)
        self.agent.connect(sock)
        while True:
            line = self._line(max(0.1, deadline - time.monotonic()))
            rc, _, out = line.partition(b" ")
            if base64.b64decode(out).startswith(b"ready"):
                return time.monotonic() - self.t_start

    def sh(self, cmd, timeout=120, check=True):
        """Run a shell command in the guest as root; returns (status, output)."""
        self.agent.sendall(base64.b64encode(cmd.encode()) + b"\n")
        line = self._line(timeout)
        rc, _, out = line.partition(b" ")
        rc, out = int(rc), base64.b64decode(out).decode(errors="replace")
        if check and rc != 0:
            raise AssertionError(f"guest command failed ({rc}): {cmd}\n{out}")
        return rc, out

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def cleanup(self, keep=False):
        self.power_off()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
