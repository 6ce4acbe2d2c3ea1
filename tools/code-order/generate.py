#!/usr/bin/env python3
"""Writes services/fortimock/code-order.txt: the functions a release `fortimock up` runs to start, for the linker.

The release binary's code is about 24 MB, and a start runs some 3,200 of its functions, 3.5 MB of them, spread
over most of it. Every page the start touches maps the 64 KiB around it (the kernel's fault-around), so a
start left 19 to 23 MiB of the binary resident and took a page fault for each such window. Linked with this
list as lld's `--symbol-ordering-file` (services/fortimock/build.rs), those functions stand together.

What it runs, for each binary given (the default: the release build of fortimock in the target dir): the
suite once on a fresh data dir, so that the profiled start finds an existing one (the start the bench
measures), then the suite under callgrind until its ready file is written, `fortimock health` has been
answered over HTTPS by every service and it has idled for five seconds. The functions that ran are listed
busiest first. (The code answering requests, from `fortimock demo`, was listed after the start's too: polls
measured no faster, so it was left out.)

Valgrind does not run everything a native start runs: the variants picked by CPU features it does not
emulate (AVX-512, the SHA extensions, ADX), and the server's TLS close, which `fortimock health` never asks
for. Each such function left outside the list kept its own 64 KiB of the binary resident. So each binary
is then started natively under `perf record -e page-faults` (the same start, `fortimock health`, a GET on
each service from a client that has the server close the connection, the same idle), and the functions whose
code it faulted in that the list lacks are appended to its section, in the order they faulted (20 for the
native build and 33 for the static one when this was written; idle memory 14.0 to 14.2 MiB before them,
12.8 MiB with them). Without perf that pass is left out, and said so. The paths threads take only when
they contend stay out either way.

The list names each function by its mangled symbol, which carries a hash of its crate's build (the
compiler's version, the dependencies, the target given, the release profile): a build that differs finds
fewer of them, and lld leaves those where they were. Nothing breaks; the gain goes. The release profile
builds each crate as one code unit (`codegen-units = 1`), so no symbol carries the `.llvm.<hash>` suffix of
its unit, which changed with every edit to any function sharing that unit (with 16 units, three commits
after the list was written, 262 of its 4,158 native functions had moved that way). Rerun this after a
compiler or dependency update, and for the static image build too:

    cargo build --release -p fortimock -p forticare -p ftm          # as BENCHMARKS.md builds it
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target x86_64-unknown-linux-gnu \
        -p fortimock -p forticare -p ftm -p push -p phone -p appliance     # as docker/build-images.sh does
    tools/code-order/generate.py target/release/fortimock target/x86_64-unknown-linux-gnu/release/fortimock

Build with the same packages as the builds it is for: the packages built together settle their dependencies'
features, and with them some of the symbols' names.

`--check BINARY` says how much of the list a built binary holds. Needs valgrind (callgrind_control).
"""

import argparse
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "services" / "fortimock" / "code-order.txt"
FREE_PORTS = [
    "--forticare-port", "0", "--ftm-port", "0", "--push-port", "0", "--phone-port", "0",
    "--appliance-port", "0", "--smtp-port", "0", "--ui-port", "0",
]
# Then idle this long: what runs on timers (the HTTP date, the stores' and services' periodic tasks) is the
# code an idle suite keeps resident too.
IDLE = 5.0
RECURSION = re.compile(r"'\d+$")
LEGACY_SYMBOL = re.compile(r"^_ZN.*17h[0-9a-f]{16}E$")
HASH = re.compile(r"17h[0-9a-f]{16}E")
UNIT_SUFFIX = re.compile(r"\.llvm\.\d+$")


def wait_for(path: Path, process: subprocess.Popen, patience: float) -> None:
    deadline = time.monotonic() + patience
    while not (path.exists() and path.stat().st_size > 0):
        if process.poll() is not None:
            sys.exit(f"the suite exited ({process.returncode}) before it was ready")
        if time.monotonic() > deadline:
            process.kill()
            sys.exit(f"the suite was not ready within {patience:.0f} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def costs_by_function(dump: Path, binary: Path) -> dict[str, int]:
    """Each function of `binary` in one callgrind dump (names not demangled) with its own cost."""
    objects: dict[str, str] = {}
    functions: dict[str, str] = {}
    costs: dict[str, int] = {}
    current_object = current_function = None
    in_call = False
    target = str(binary.resolve())
    for line in dump.read_text(errors="replace").splitlines():
        named = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.+))?$", line)
        if named:
            kind, number, name = named.groups()
            table = objects if kind.endswith("ob") else functions
            if name:
                table[number] = name
            if kind == "ob":
                current_object = table.get(number)
            elif kind == "fn":
                current_function = table.get(number)
            continue
        if line.startswith("calls="):
            in_call = True  # the next cost line is the call's inclusive cost, not the function's own
            continue
        if line[:1].isdigit() or line[:1] in "+-*":
            if in_call:
                in_call = False
                continue
            if current_object == target and current_function:
                fields = line.split()
                if len(fields) >= 2:
                    # `name'2` is callgrind's name for a second level of recursion: the same function.
                    function = RECURSION.sub("", current_function)
                    costs[function] = costs.get(function, 0) + int(fields[1])
    return costs


def existing_data_dir(binary: Path, work: Path) -> tuple[Path, Path]:
    """A data dir in `work` the suite has started on once (the start the bench measures finds one), and the
    path of the ready file a start on it writes."""
    data = work / "data"
    ready = work / "ready"
    first = subprocess.Popen(
        [binary, "up", "--data-dir", data, "--ready-file", ready, *FREE_PORTS],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for(ready, first, 30)
    stop(first)
    ready.unlink()
    return data, ready


def profile(binary: Path) -> list[str]:
    """The functions of a start up to every service's first answer, busiest first."""
    work = Path(tempfile.mkdtemp(prefix="code-order-"))
    try:
        data, ready = existing_data_dir(binary, work)
        dumps = work / "callgrind"
        profiled = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={dumps}.%p",
             binary, "up", "--data-dir", data, "--ready-file", ready, *FREE_PORTS],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(ready, profiled, 300)
        subprocess.run([binary, "health", "--wait", "120", "--data-dir", data], check=True,
                       stdout=subprocess.DEVNULL)
        time.sleep(IDLE)
        subprocess.run(["callgrind_control", "--dump=start", str(profiled.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stop(profiled)

        files = sorted(work.glob(f"callgrind.{profiled.pid}*"))
        parts = [f for f in files if f.name != f"callgrind.{profiled.pid}"]
        if len(parts) != 1:
            sys.exit(f"expected the start's dump and the stop's, found {[f.name for f in files]}")
        start = costs_by_function(parts[0], binary)
        # Only the binary's own symbols: callgrind also names what it made up, such as `(below main)`.
        defined = defined_functions(binary)
        ran = [function for function in start if function in defined]
        return sorted(ran, key=lambda function: (-start[function], function))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# A page fault `perf script` prints: its time, the address, the symbol and object there, then the instruction's.
FAULT = re.compile(r"^\s*([\d.]+):\s+([0-9a-f]+)\s+(\S+)\s+\(([^)]*)\)\s+([0-9a-f]+)\s")


def native_faults(binary: Path) -> list[str]:
    """The binary's functions a native start faults in, in the order it does, up to its stop: the same start,
    `fortimock health` and idle as under callgrind, plus a GET on each service from a client that asks the
    server to close the connection. Under valgrind some of them never run: the variants picked by CPU
    features it does not emulate (AVX-512, the SHA extensions, ADX) and the server's TLS close. An empty
    list, said so, where perf cannot record page faults."""
    # perf present but refused the events (perf_event_paranoid, a container) counts as absent.
    if shutil.which("perf") is None or subprocess.run(
        ["perf", "record", "--quiet", "-e", "page-faults", "-o", os.devnull, "true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ).returncode != 0:
        print(f"{binary}: perf cannot record page faults here, so no native pass: the list holds what valgrind "
              "saw", file=sys.stderr)
        return []
    work = Path(tempfile.mkdtemp(prefix="code-order-native-"))
    try:
        data, ready = existing_data_dir(binary, work)
        faults = work / "faults.data"
        # CLOCK_MONOTONIC timestamps (-k mono), to leave out what the stop faults in.
        perf = subprocess.Popen(
            ["perf", "record", "--quiet", "-e", "page-faults", "-c", "1", "-d", "-k", "mono", "-o", faults,
             binary, "up", "--data-dir", data, "--ready-file", ready, *FREE_PORTS],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(ready, perf, 60)
        subprocess.run([binary, "health", "--wait", "60", "--data-dir", data], check=True,
                       stdout=subprocess.DEVNULL)
        context = ssl.create_default_context(cafile=str(data / "tls" / "ca.pem"))
        for url in json.loads(ready.read_text()).values():
            if url.startswith("https://"):
                request = urllib.request.Request(f"{url}/__admin/health", headers={"Connection": "close"})
                with urllib.request.urlopen(request, context=context, timeout=30) as answer:
                    answer.read()
        time.sleep(IDLE)
        stopped_at = time.monotonic()
        suite = [int(child) for child in Path(f"/proc/{perf.pid}/task/{perf.pid}/children").read_text().split()]
        for pid in suite:
            os.kill(pid, signal.SIGTERM)
        perf.wait(timeout=120)
        script = subprocess.run(["perf", "script", "--no-demangle", "-i", faults, "-F", "time,addr,ip,sym,dso"],
                                capture_output=True, text=True, check=True).stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
    defined = defined_functions(binary)
    target = str(binary.resolve())
    ran: list[str] = []
    for line in script.splitlines():
        fault = FAULT.match(line)
        # An instruction fetch: the faulting address is the instruction's, in the binary's code.
        if not fault or float(fault.group(1)) >= stopped_at or fault.group(2) != fault.group(5):
            continue
        name, dso = fault.group(3), fault.group(4)
        if dso == target and name in defined and name not in ran:
            ran.append(name)
    return ran


def defined_functions(binary: Path) -> set[str]:
    listing = subprocess.run(["nm", "--defined-only", binary], check=True, capture_output=True, text=True)
    return {fields[2] for fields in map(str.split, listing.stdout.splitlines())
            if len(fields) == 3 and fields[1] in "tTwW"}


def listed() -> dict[str, list[str]]:
    """The list's functions, by the build each section was written for (`# a release build with …`)."""
    sections: dict[str, list[str]] = {}
    build = "a release build"
    for line in OUT.read_text().splitlines():
        heading = re.match(r"^# (a release build with .+) \(\d+ functions\)$", line)
        if heading:
            build = heading.group(1)
            continue
        name = line.split("#", 1)[0].strip()
        if name:
            sections.setdefault(build, []).append(name)
    return sections


def unhashed(name: str) -> str:
    """A symbol without what changes with the build: its legacy hash and a code unit's suffix."""
    return HASH.sub("", UNIT_SUFFIX.sub("", name))


def check(binary: Path) -> None:
    present = defined_functions(binary)
    renamed = {unhashed(name) for name in present}
    for build, names in listed().items():
        found = sum(1 for name in names if name in present)
        rust = [name for name in names if LEGACY_SYMBOL.match(name)]
        found_rust = sum(1 for name in rust if name in present)
        # A name the binary lacks but defines under another hash: for the build the section was written for,
        # the list is stale (regenerate it); a section written for the other build finds few names at all.
        moved = sum(1 for name in names if name not in present and unhashed(name) in renamed)
        print(
            f"{binary}: {found} of the {len(names)} functions listed for {build} "
            f"({found_rust} of {len(rust)} Rust ones); {moved} more under another hash"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="only say how much of the list each binary holds")
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binaries = args.binaries or [target / "release" / "fortimock"]
    if args.check:
        for binary in binaries:
            check(binary)
        return

    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# The functions a release `fortimock up` runs, for lld's --symbol-ordering-file (services/fortimock/build.rs).",
        "# Generated by tools/code-order/generate.py: do not edit by hand. Regenerate after a compiler or dependency",
        f"# update. Built with {rustc}; for each binary, the functions its start ran, busiest first.",
    ]
    seen: set[str] = set()
    for binary in binaries:
        start = profile(binary)
        ran = set(start)
        # Then what only a native start runs, appended so that it stands with the rest.
        native = [name for name in native_faults(binary) if name not in ran]
        triple = binary.parent.parent.name
        build = f"--target {triple}" if triple.count("-") >= 2 else "no --target"
        lines.append(f"# a release build with {build} ({len(start) + len(native)} functions)")
        for name in start:
            if name not in seen:
                seen.add(name)
                lines.append(name)
        lines.append(f"# then the {len(native)} functions a native start faulted in that valgrind did not run")
        for name in native:
            if name not in seen:
                seen.add(name)
                lines.append(name)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT.relative_to(REPO)}: {len(seen)} functions")


if __name__ == "__main__":
    main()
