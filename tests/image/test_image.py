"""The firmware's test image under QEMU (TCG): systemd runs the daemon and its units the way the
device does, the USB gadget gives a PC an address, and RAUC updates slot B, refuses a bundle with
a bad signature and falls back from a slot that never becomes healthy.

Build first: tests/image/build.sh (scripts/test.sh does it in the "image" tier). The tests share one
VM and run in file order; each one leaves the device in the state the next expects.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

from vm import VM, read_env_file

HERE = os.path.dirname(os.path.abspath(__file__))
RIG_CACHE = os.environ.get("RIG_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cameraservice-rig")
IMAGE_ENV = os.environ.get("IMAGE_ENV", os.path.join(RIG_CACHE, "image", "out", "image.env"))
BOOT_TIMEOUT = 240


def report(msg):
    """Figures the README quotes: printed and kept in the run's results file."""
    print(f"\n[image] {msg}", flush=True)
    with open(os.path.join(os.environ.get("IMAGE_RESULTS_DIR", tempfile.gettempdir()),
                           "image-results.txt"), "a") as f:
        f.write(msg + "\n")


@pytest.fixture(scope="module")
def image():
    if not os.path.exists(IMAGE_ENV):
        pytest.fail(f"no test image ({IMAGE_ENV}): run tests/image/build.sh")
    return read_env_file(IMAGE_ENV)


@pytest.fixture(scope="module")
def vm(image, tmp_path_factory):
    v = VM(IMAGE_ENV, str(tmp_path_factory.mktemp("vm")))
    yield v
    keep = os.environ.get("IMAGE_KEEP") == "1"
    if keep:
        print(f"\n[image] VM files kept in {v.workdir}")
    v.cleanup(keep=keep)


def api(vm, action, body=None, timeout=10):
    r = requests.post(vm.url(f"/{action}"), json=body or {}, timeout=timeout)
    return r.json()


def app_version(vm, timeout=5):
    return api(vm, "param=get", {"type": "app_version"}, timeout=timeout)


def wait_api(vm, timeout=BOOT_TIMEOUT):
    """Seconds from power-on until the API answers through the port forward."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if not vm.running():
            raise AssertionError("the VM stopped while waiting for the API:\n" + vm.console_text()[-3000:])
        try:
            if app_version(vm, timeout=3).get("code") == "0":
                return time.monotonic() - vm.t_start
        except (requests.RequestException, ValueError) as e:
            last = e
        time.sleep(0.25)
    raise AssertionError(f"API did not answer within {timeout}s ({last})\n" + vm.console_text()[-3000:])


def boot_ready(vm, slot=None):
    """Power on and wait until the API answers and the agent is up; returns the slot booted."""
    s = vm.boot(slot)
    t_api = wait_api(vm)
    vm.wait_agent(BOOT_TIMEOUT)
    return s, t_api


def main_pid(vm):
    return int(vm.sh("systemctl show -p MainPID --value cameraservice")[1].strip())


def unit_prop(vm, unit, prop):
    return vm.sh(f"systemctl show -p {prop} --value {unit}")[1].strip()


def token_headers(image):
    return {"X-Admin-Token": image["IMAGE_ADMIN_TOKEN"]}


# ---------------------------------------------------------------------------------------------
# boot, readiness, restart, watchdog

def test_boot_to_api_ready(vm):
    slot, t_api = boot_ready(vm)
    assert slot == "A"
    state = vm.sh("systemctl is-system-running --wait", check=False, timeout=BOOT_TIMEOUT)[1].strip()
    failed = vm.sh("systemctl --failed --no-legend --plain")[1].strip()
    assert state == "running", f"system {state}; failed units:\n{failed}"
    # READY=1 moves the unit to active; the timestamp counts from kernel start (CLOCK_MONOTONIC)
    ready_us = int(unit_prop(vm, "cameraservice", "ActiveEnterTimestampMonotonic"))
    kernel = vm.sh("systemd-analyze")[1].splitlines()[0]
    report(f"boot to API ready: READY=1 {ready_us / 1e6:.1f} s after kernel start; "
           f"first API answer through the port forward {t_api:.1f} s after power-on "
           f"(QEMU TCG, 1 vCPU); {kernel}")
    assert unit_prop(vm, "cameraservice", "Type") == "notify"
    assert unit_prop(vm, "cameraservice", "ActiveState") == "active"


def test_daemon_runs_unprivileged(vm):
    pid = main_pid(vm)
    status = vm.sh(f"cat /proc/{pid}/status")[1]
    uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
    assert uid == vm.sh("id -u cameraservice")[1].strip() and uid != "0"
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
    # the read-only root, the writable state on the data partition
    assert vm.sh("findmnt -n -o OPTIONS /")[1].startswith("ro")
    assert vm.sh("findmnt -n -o SOURCE /var/lib/cameraservice")[1].strip().endswith("[/cameraservice]")


def test_killed_daemon_is_restarted(vm):
    pid = main_pid(vm)
    restarts = int(unit_prop(vm, "cameraservice", "NRestarts"))
    vm.sh(f"kill -9 {pid}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = main_pid(vm)
        if new not in (0, pid) and unit_prop(vm, "cameraservice", "ActiveState") == "active":
            break
        time.sleep(0.5)
    else:
        raise AssertionError("daemon not restarted after SIGKILL")
    assert int(unit_prop(vm, "cameraservice", "NRestarts")) == restarts + 1
    assert wait_api(vm, 60) is not None


def test_hung_daemon_is_killed_by_the_watchdog(vm):
    pid = main_pid(vm)
    wd = unit_prop(vm, "cameraservice", "WatchdogUSec")  # e.g. "30s", "1min 30s"
    m = re.fullmatch(r"(?:(\d+)min)?\s*(?:(\d+)s)?", wd)
    assert m and wd, wd
    watchdog_us = (int(m.group(1) or 0) * 60 + int(m.group(2) or 0)) * 1e6
    assert watchdog_us > 0
    vm.sh(f"kill -STOP {pid}")
    t0 = time.monotonic()
    deadline = t0 + watchdog_us / 1e6 + 60
    while time.monotonic() < deadline:
        new = main_pid(vm)
        if new not in (0, pid) and unit_prop(vm, "cameraservice", "ActiveState") == "active":
            break
        time.sleep(1)
    else:
        raise AssertionError("the watchdog did not replace the stopped daemon")
    took = time.monotonic() - t0
    log = vm.sh("journalctl -u cameraservice -b --no-pager | grep -i watchdog", check=False)[1]
    assert "Watchdog timeout" in log, log
    wait_api(vm, 60)
    report(f"watchdog: a stopped daemon was replaced {took:.0f} s later (WatchdogSec {watchdog_us / 1e6:.0f} s)")


# ---------------------------------------------------------------------------------------------
# the USB network gadget (dummy_hcd: the "PC" is the same VM's USB host side, in a namespace)

GADGET_PC = r"""
set -e
cfg=$1 want=$2
dev=
for d in /sys/bus/usb/devices/*; do
  [ "$(cat $d/idVendor 2>/dev/null)$(cat $d/idProduct 2>/dev/null)" = 1d6b0104 ] && dev=$d
done
[ -n "$dev" ] || { echo "no gadget seen by the host side"; exit 1; }
ip netns del pc 2>/dev/null || true
if [ -n "$cfg" ] && [ "$(cat $dev/bConfigurationValue)" != "$cfg" ]; then
  echo "$cfg" > $dev/bConfigurationValue
fi
echo "config $(cat $dev/bConfigurationValue)"
ifc=
i=0
while [ -z "$ifc" ] && [ $i -lt 100 ]; do
  for n in /sys/class/net/*; do
    drv=$(basename "$(readlink $n/device/driver 2>/dev/null)")
    [ "$drv" = "$want" ] && { ifc=${n##*/}; echo "driver $drv"; }
  done
  [ -z "$ifc" ] && sleep 0.1
  i=$((i+1))
done
[ -n "$ifc" ] || { echo "no host-side interface"; exit 1; }
echo "pc-mac $(cat /sys/class/net/$ifc/address)"
ip netns add pc
ip link set "$ifc" netns pc
ip -n pc link set lo up
ip -n pc link set "$ifc" up
# The PC's driver sometimes misses the device's link-up notification (seen with cdc_ncm over
# dummy_hcd right after enumeration): the link then never gets a carrier. Report it (exit 3) so
# the harness selects the configuration again, which makes the device send it again.
i=0
while [ "$(ip netns exec pc cat "/sys/class/net/$ifc/carrier" 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do
  sleep 0.1; i=$((i+1))
done
if [ "$(ip netns exec pc cat "/sys/class/net/$ifc/carrier" 2>/dev/null)" != 1 ]; then
  echo "no carrier on the PC side"; ip netns del pc; exit 3
fi
cat > /run/udhcpc.sh <<'EOF'
#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add "$ip/$mask" dev "$interface"
echo "lease $ip/$mask router=${router:-none} dns=${dns:-none}"
EOF
chmod +x /run/udhcpc.sh
if ! ip netns exec pc busybox udhcpc -i "$ifc" -n -q -t 40 -T 1 -f -s /run/udhcpc.sh 2>&1 | grep '^lease '; then
  echo "no lease on $ifc"; ip -n pc -br link; bridge link; networkctl --no-pager
  journalctl -b -u systemd-networkd --no-pager | tail -15
  exit 1
fi
ip netns exec pc python3 -c '
import socket
body = b"{\"type\":\"app_version\"}"
s = socket.create_connection(("192.168.7.1", 38088), timeout=10)
s.sendall(b"POST /param=get HTTP/1.1\r\nHost: 192.168.7.1:38088\r\nContent-Type: application/json\r\n"
          b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
data = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    data += c
print(data.split(b"\r\n\r\n", 1)[1].decode())
'

echo "ifc $ifc"
"""

MDNS_QUERY = r"""
import socket, struct, sys
ifaddr = sys.argv[1]
name = b"".join(bytes([len(p)]) + p for p in b"cameraservice.local".split(b".")) + b"\0"
q = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("224.0.0.251") + socket.inet_aton(ifaddr))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
s.settimeout(1.0)
for attempt in range(8):
    s.sendto(q, ("224.0.0.251", 5353))
    try:
        while True:
            data, src = s.recvfrom(4096)
            if src[0] == ifaddr:
                continue
            flags, qd, an = struct.unpack(">HHH", data[2:8])
            if not flags & 0x8000 or an == 0:
                continue
            if name in data and data[-4:] and len(data) >= 4:
                print("answer", socket.inet_ntoa(data[-4:]), "from", src[0])
                sys.exit(0)
    except socket.timeout:
        pass
print("no answer")
sys.exit(1)
"""


GADGET_RETRIES = []


def gadget_pc(vm, cfg="", driver="cdc_ncm"):
    """The PC side: (optionally) choose configuration CFG, take the interface DRIVER makes, move it
    into the namespace "pc", get a DHCP lease and call the API."""
    script = f"cat > /run/gadget-pc.sh <<'END'\n{GADGET_PC}\nEND\n"
    rc, out = vm.sh(script + f"sh /run/gadget-pc.sh '{cfg}' {driver}", check=False, timeout=120)
    if rc == 3:
        # no carrier on the PC side: select the configuration again (once)
        n = re.search(r"config (\d)", out).group(1)
        GADGET_RETRIES.append(out)
        vm.sh(f"for d in /sys/bus/usb/devices/*; do [ \"$(cat $d/idProduct 2>/dev/null)\" = 0104 ] && "
              f"echo {n} > $d/bConfigurationValue; done; true")
        rc, out = vm.sh(script + f"sh /run/gadget-pc.sh '{n}' {driver}", check=False, timeout=120)
    assert rc == 0, out
    return out


def test_gadget_gives_the_pc_an_address_and_the_api(vm):
    status = vm.sh("/usr/lib/cameraservice/usb-gadget status")[1]
    assert "rndis.usb0" in status and "ncm.usb1" in status and "ecm.usb2" in status
    macs = re.findall(r"(02(?::[0-9a-f]{2}){5})", status)
    assert len(set(macs)) == 6, status
    # the bridge that holds 192.168.7.1 has a MAC from the same serial-derived base
    bridge_mac = vm.sh("cat /sys/class/net/usbgadget0/address")[1].strip()
    assert bridge_mac == macs[0][:-2] + "06", (bridge_mac, macs)
    seen = {}
    # Linux passes over the RNDIS first configuration and takes NCM; then force RNDIS and ECM.
    for cfg, driver in (("", "cdc_ncm"), ("1", "rndis_host"), ("3", "cdc_ether")):
        out = gadget_pc(vm, cfg, driver)
        lease = re.search(r"lease (192\.168\.7\.(\d+))/24 router=none dns=none", out)
        assert lease and 10 <= int(lease.group(2)) < 50, out
        assert '"app_version"' in out, out
        seen[driver] = lease.group(1)
    report(f"USB gadget: DHCP lease and API reply over NCM, RNDIS and ECM: {seen}; "
           f"PC-side links that missed the carrier and needed the configuration selected again: "
           f"{len(GADGET_RETRIES)}")
    # the same MACs after the gadget is set up again (derived from the serial number)
    vm.sh("ip netns del pc; systemctl restart cameraservice-gadget")
    assert re.findall(r"(02(?::[0-9a-f]{2}){5})", vm.sh("/usr/lib/cameraservice/usb-gadget status")[1]) == macs


def test_mdns_name_answers_on_the_usb_link(vm):
    out = gadget_pc(vm)
    ifc = re.search(r"ifc (\S+)", out).group(1)
    addr = re.search(r"lease (192\.168\.7\.\d+)/", out).group(1)
    vm.sh(f"ip -n pc route add 224.0.0.0/4 dev {ifc}")
    rc, out = vm.sh(f"cat > /run/mdns.py <<'END'\n{MDNS_QUERY}\nEND\n"
                    f"ip netns exec pc python3 /run/mdns.py {addr}", check=False, timeout=60)
    assert rc == 0 and "answer 192.168.7.1" in out, out
    vm.sh("ip netns del pc")


# ---------------------------------------------------------------------------------------------
# updates

def make_bundle(image, out, name, *, marker=None, broken=False, key="cert", version="2"):
    """A RAUC bundle of the image's rootfs, changed with debugfs (no mounts needed)."""
    work = tempfile.mkdtemp(prefix="bundle-", dir=os.path.dirname(out))
    try:
        content = os.path.join(work, "content")
        os.mkdir(content)
        rootfs = os.path.join(content, "rootfs.ext4")
        subprocess.run(["cp", "--sparse=always", image["IMAGE_ROOTFS"], rootfs], check=True)
        cmds = []
        if marker:
            m = os.path.join(work, "marker")
            with open(m, "w") as f:
                f.write(marker + "\n")
            cmds += ["rm /etc/cameraservice-build", f"write {m} /etc/cameraservice-build"]
        if broken:
            b = os.path.join(work, "broken")
            with open(b, "w") as f:
                f.write("#!/bin/sh\necho 'broken update: the daemon cannot start' >&2\nexit 1\n")
            cmds += ["rm /usr/bin/cameraserviced", f"write {b} /usr/bin/cameraserviced",
                     "sif /usr/bin/cameraserviced mode 0100755"]
        if cmds:
            cf = os.path.join(work, "cmds")
            with open(cf, "w") as f:
                f.write("\n".join(cmds) + "\n")
            subprocess.run(["debugfs", "-w", "-f", cf, rootfs], check=True, capture_output=True)
        subprocess.run(["e2fsck", "-fy", rootfs], capture_output=True)
        subprocess.run(["resize2fs", "-M", rootfs], check=True, capture_output=True)
        with open(os.path.join(content, "manifest.raucm"), "w") as f:
            f.write("[update]\ncompatible=cameraservice-qemu-x86_64\n"
                    f"version={version}\ndescription={name}\n\n"
                    "[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.ext4\n")
        keys = image["IMAGE_KEYS"]
        if os.path.exists(out):
            os.unlink(out)
        subprocess.run(["rauc", "bundle", f"--cert={keys}/{key}.pem", f"--key={keys}/{key}-key.pem",
                        content, out], check=True, capture_output=True)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def bundles(image, tmp_path_factory):
    d = tmp_path_factory.mktemp("bundles")
    t0 = time.monotonic()
    b = {
        "good": make_bundle(image, str(d / "good.raucb"), "update 2", marker="update 2"),
        "untrusted": make_bundle(image, str(d / "untrusted.raucb"), "untrusted", marker="untrusted",
                                 key="other"),
        "broken": make_bundle(image, str(d / "broken.raucb"), "broken", marker="broken", broken=True,
                              version="3"),
    }
    report(f"three bundles built in {time.monotonic() - t0:.0f} s; good bundle "
           f"{os.path.getsize(b['good']) / 1e6:.0f} MB")
    return b


def upload(vm, image, path, reboot=False, headers=None):
    h = {"Content-Type": "application/octet-stream"}
    h.update(token_headers(image) if headers is None else headers)
    with open(path, "rb") as f:
        r = requests.post(vm.url("/update=install" + ("?reboot=1" if reboot else "")), data=f,
                          headers=h, timeout=300)
    return r


def wait_update(vm, image, timeout=600):
    deadline = time.monotonic() + timeout
    steps = []
    while time.monotonic() < deadline:
        s = requests.get(vm.url("/update=status"), headers=token_headers(image), timeout=10).json()
        assert s["code"] == "0", s
        if not steps or steps[-1] != (s["state"], s["progress"], s["operation"]):
            steps.append((s["state"], s["progress"], s["operation"]))
        if s["state"] in ("done", "failed"):
            return s, steps
        time.sleep(0.5)
    raise AssertionError(f"update did not finish: {steps[-5:]}")


def test_update_api_refuses_without_token_or_from_a_web_origin(vm, image, bundles):
    r = upload(vm, image, bundles["good"], headers={})
    assert r.status_code == 403 and r.json()["code"] == "14"
    r = upload(vm, image, bundles["good"], headers={**token_headers(image), "Origin": "http://example.test"})
    assert r.status_code == 403 and r.json()["code"] == "14"
    assert "Access-Control-Allow-Origin" not in r.headers
    # and an unprivileged local user cannot reach RAUC behind the daemon's back
    rc, out = vm.sh("setpriv --reuid=65534 --regid=65534 --clear-groups busctl --system get-property "
                    "de.pengutronix.rauc / de.pengutronix.rauc.Installer Operation", check=False)
    assert rc != 0 and ("denied" in out.lower() or "access" in out.lower()), out
    assert vm.sh("setpriv --reuid=cameraservice --regid=cameraservice --init-groups busctl --system "
                 "get-property de.pengutronix.rauc / de.pengutronix.rauc.Installer Operation")[1].strip() == 's "idle"'


def test_signed_bundle_installs_into_slot_b_and_boots(vm, image, bundles):
    t0 = time.monotonic()
    r = upload(vm, image, bundles["good"])
    t_upload = time.monotonic() - t0
    assert r.json()["code"] == "0", r.text
    s, steps = wait_update(vm, image)
    assert s["state"] == "done", (s, steps)
    assert s["progress"] == 100
    report(f"update: {os.path.getsize(bundles['good']) / 1e6:.0f} MB uploaded in {t_upload:.1f} s, "
           f"installed in {time.monotonic() - t0 - t_upload:.1f} s; {len(steps)} status steps")
    st = vm.sh("rauc status --output-format=json")[1]
    assert json.loads(st)["boot_primary"] == "rootfs.1", st
    # the bundle is not kept
    assert vm.sh("ls /var/lib/cameraservice/update")[1].strip() == ""
    # restart through the API: the daemon flags it, cameraservice-reboot.path reboots
    assert requests.post(vm.url("/update=reboot"), headers=token_headers(image), timeout=10).json()["code"] == "0"
    assert vm.wait_off(120), "the device did not restart"
    slot, _ = boot_ready(vm)
    assert slot == "B"
    assert vm.sh("cat /etc/cameraservice-build")[1].strip() == "update 2"
    st = json.loads(vm.sh("rauc status --output-format=json")[1])
    assert st["booted"] == "B", st
    # marked good once the daemon was ready: tries back to full
    wait_marked_good(vm)
    env = vm.sh("head -c 200 /dev/vda1 | tr -d '\\000'")[1]
    assert "BOOT_ORDER=B A" in env and "BOOT_B_LEFT=3" in env, env
    status = requests.get(vm.url("/update=status"), headers=token_headers(image), timeout=10).json()
    assert status["booted_slot"] == "B" and status["compatible"] == "cameraservice-qemu-x86_64"


def test_bundle_with_an_untrusted_signature_is_refused(vm, image, bundles):
    before = json.loads(vm.sh("rauc status --output-format=json")[1])
    r = upload(vm, image, bundles["untrusted"])
    assert r.json()["code"] == "0", r.text
    s, _ = wait_update(vm, image)
    assert s["state"] == "failed", s
    assert "signature" in s["error"].lower() or "verif" in s["error"].lower(), s
    after = json.loads(vm.sh("rauc status --output-format=json")[1])
    assert after["boot_primary"] == before["boot_primary"] == "rootfs.1"
    assert vm.sh("ls /var/lib/cameraservice/update")[1].strip() == ""
    assert app_version(vm)["code"] == "0"


def test_slot_that_never_becomes_healthy_falls_back(vm, image, bundles):
    r = upload(vm, image, bundles["broken"], reboot=True)
    assert r.json()["code"] == "0", r.text
    s, _ = wait_update(vm, image)
    assert s["state"] == "done", s
    assert vm.wait_off(120), "no restart after the update (reboot=1)"
    boots = []
    for _ in range(6):
        slot = vm.boot()
        boots.append(slot)
        if slot == "B":
            break
        # slot A's daemon cannot start: the start limit restarts the device, unmarked
        assert vm.wait_off(BOOT_TIMEOUT), "a slot with a failing daemon did not restart"
    report(f"fallback: boots after installing a broken update into A: {boots}")
    assert boots[:3] == ["A", "A", "A"] and boots[-1] == "B", boots
    wait_api(vm)
    vm.wait_agent(BOOT_TIMEOUT)
    assert vm.sh("cat /etc/cameraservice-build")[1].strip() == "update 2"
    st = json.loads(vm.sh("rauc status --output-format=json")[1])
    assert st["booted"] == "B"
    wait_marked_good(vm)
    env = read_boot_env_guest(vm)
    assert env["BOOT_A_LEFT"] == "0" and env["BOOT_B_LEFT"] == "3", env


def wait_marked_good(vm, timeout=90):
    deadline = time.monotonic() + timeout
    while vm.sh("systemctl is-active rauc-mark-good.service", check=False)[1].strip() != "active":
        assert time.monotonic() < deadline, vm.sh("systemctl status rauc-mark-good --no-pager", check=False)[1]
        time.sleep(1)


def read_boot_env_guest(vm):
    env = {}
    for line in vm.sh("head -c 200 /dev/vda1 | tr -d '\\000'")[1].splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


def test_power_cut_during_boot_keeps_the_device_bootable(vm):
    """Pull the plug while the system starts: the next boot still reaches the API."""
    vm.power_off()
    vm.boot()
    # Cut while systemd starts the units: once the test agent (in sysinit.target, well before the
    # daemon) answers, rather than after a fixed time, which may fall before the kernel is up or
    # after the boot on a slower or faster machine.
    t_cut = vm.wait_agent(BOOT_TIMEOUT)
    vm.power_off()
    report(f"power cut {t_cut:.1f} s after power-on, when the test agent came up (sysinit)")
    slot, _ = boot_ready(vm)
    assert slot == "B"
    assert vm.sh("cat /etc/cameraservice-build")[1].strip() == "update 2"
    wait_marked_good(vm)
    assert read_boot_env_guest(vm)["BOOT_B_LEFT"] == "3"
