#!/usr/bin/env python3
"""Mutation testing for nanochat: proves that the XCTest suite catches the bugs that matter.

Each mutation in tools/mutations.txt is a one-line change to a file under Sources/nanochat/ that stands
for a real bug (an encoder that merges in the wrong order, a loader that drops data, an optimizer with a
sign flipped, a grader that accepts wrong answers, ...). For each one, this script plants the change in
a scratch copy of the repository, builds the tests as ./run.sh test does (release, -enable-testing),
runs the XCTest classes the entry names first and, if they all pass, the rest of the suite. A mutation
is CAUGHT when a test fails, the test process crashes or a run times out; SURVIVED when every test
passes (the suite cannot tell the bug from the real code: write a test); BUILD-FAILED when the change
does not compile (a defect in the list). The working tree is never modified: only the scratch copy
is, and every file there is restored after each mutation, at the end and on Ctrl-C.

  python3 tools/mutate.py --check         every entry's find text occurs exactly once; no building
  python3 tools/mutate.py --list          the entries: id, file, expected test classes, why
  python3 tools/mutate.py --dry-run       make/refresh the scratch copy, apply and restore each
                                          mutation there and check the file changed and came back
  python3 tools/mutate.py                 the whole run (baseline first)
  python3 tools/mutate.py --only ID,ID    just these entries (the baseline still runs first)
  options: --scratch DIR (default /tmp/nanochat-mutate), --timeout S per test run (default 900),
           --build-timeout S per build (default 3600), --skip-baseline (reruns, when the unmutated
           scratch is known to pass)

The scratch copy holds `git ls-files` plus the untracked files git does not ignore (and
Package.resolved); it is refreshed from the working tree at every start and keeps its own .build
between mutations and between runs, so builds are incremental. When it is made, the working tree's
.build is copied in once (SwiftPM may still rebuild everything: its paths differ). Test runs get their
own TMPDIR inside the scratch, emptied after each run. Logs of every build and test run are kept in
SCRATCH/.mutate-logs/; the report goes to the terminal and to tools/mutate-last.txt (overwritten).

How long: the baseline is one debug build (~1 min on 2 cores) plus the full suite (~30 s). Each mutation
is then one incremental debug build (5-45 s, by how much depends on the changed file) plus the named
test classes, plus the rest of the suite when those miss it: 13 minutes for 72 entries on an otherwise
idle 2-core machine. --release builds
as ./run.sh test does (whole-module optimisation: ~90 s a mutation). Use --only for a few entries, e.g.
after writing a test for a survivor.

Adding an entry: append a block to tools/mutations.txt (the format is described at its top) under the
heading of the folder it changes, e.g.

  [loader-drops-cropped-rest]
  file: Data/DataLoader.swift
  find: buffer[i] = (piece.start + take, piece.count - take, true)
  replace: buffer.remove(at: i)
  why: The rest of a cropped piece is dropped, so the loader silently loses part of the corpus.
  tests: PretrainTests

then run `python3 tools/mutate.py --check` and `python3 tools/mutate.py --only loader-drops-cropped-rest`.
Choose a change that compiles and that some input can tell apart from the original; a stage that adds
code brings its own entries. Python 3.8+, standard library only.
"""

import argparse
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "Sources" / "nanochat"
TESTS_DIR = REPO / "Tests" / "nanochatTests"
MUTATIONS_FILE = REPO / "tools" / "mutations.txt"
REPORT_FILE = REPO / "tools" / "mutate-last.txt"
DEFAULT_SCRATCH = "/tmp/nanochat-mutate"
TEST_MODULE = "nanochatTests"

# Debug builds: a one-file change rebuilds in 5-45 s on 2 cores where the release build of ./run.sh test
# (whole-module optimisation) takes ~90 s, and the suite still runs in ~30 s. The code is the same; the
# CLI tests run the debug binary through NANOCHAT_BIN. --release uses ./run.sh test's flags instead.
SWIFT_FLAGS = []
BUILD_CMD = ["swift", "build", "--build-tests"]
TEST_CMD = ["swift", "test", "--skip-build", "--disable-swift-testing"]
BINARY = ".build/debug/nanochat"


def use_release_flags():
    global SWIFT_FLAGS, BUILD_CMD, TEST_CMD, BINARY
    SWIFT_FLAGS = ["-c", "release", "-Xswiftc", "-enable-testing"]
    BUILD_CMD = ["swift", "build", "--build-tests"] + SWIFT_FLAGS
    TEST_CMD = ["swift", "test", "--skip-build", "--disable-swift-testing"] + SWIFT_FLAGS
    BINARY = ".build/release/nanochat"

MARKER = ".mutate-scratch"      # marks a folder as ours (we refuse to write into any other)
MANIFEST = ".mutate-files"      # the files the last sync copied, to remove those gone from the repo
LOGS = ".mutate-logs"
TMP = ".mutate-tmp"

FIELDS = ("file", "find", "replace", "why", "tests", "equivalent")
REQUIRED = ("file", "find", "replace", "why", "tests")


class Mutation:
    def __init__(self, mid, line):
        self.id, self.line = mid, line
        self.file = self.find = self.replace = self.why = ""
        self.tests = []
        self.equivalent = None
        self.seen = set()  # keys given, while parsing

    @property
    def rel(self):
        """Path relative to the repository root."""
        return "Sources/nanochat/" + self.file

    @property
    def folder(self):
        return self.file.split("/")[0] if "/" in self.file else "."


def load_mutations(path=MUTATIONS_FILE):
    """Parses tools/mutations.txt. Returns (mutations, problems)."""
    muts, problems, cur = [], [], None
    for n, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)\]\s*", line)
        if m:
            cur = Mutation(m.group(1), n)
            muts.append(cur)
            continue
        m = re.fullmatch(r"([a-z]+): ?(.*)", line)
        if not m or cur is None:
            problems.append(f"{path.name} line {n}: expected '[id]' or 'key: value', got {line[:60]!r}")
            continue
        key, value = m.group(1), m.group(2)
        if key not in FIELDS:
            problems.append(f"{path.name} line {n}: unknown key '{key}' (keys: {', '.join(FIELDS)})")
        elif key in cur.seen:
            problems.append(f"{path.name} line {n}: '{key}' given twice in [{cur.id}]")
        else:
            cur.seen.add(key)
            if key == "tests":
                cur.tests = [t for t in re.split(r"[,\s]+", value) if t]
            elif key in ("why", "equivalent", "file"):
                setattr(cur, key, value.strip())
            else:
                setattr(cur, key, value)  # find/replace: exactly as written
    for mu in muts:
        for key in REQUIRED:
            if key not in mu.seen:
                problems.append(f"[{mu.id}] (line {mu.line}): missing '{key}'")
    return muts, problems


def test_classes():
    """XCTest classes of the test target, from the sources (final class X: XCTestCase or a base of it;
    a non-final base class such as BinaryTestCase has no tests of its own and is left out)."""
    names = set()
    for f in sorted(TESTS_DIR.glob("*.swift")):
        names.update(re.findall(r"\bfinal\s+class\s+(\w+)\s*:\s*(?:XCTestCase|BinaryTestCase)\b",
                                f.read_text(encoding="utf-8")))
    return sorted(names)


def check(muts, base=REPO):
    """Problems with the entries against the files under `base` (the repo, or the scratch copy)."""
    problems, seen = [], set()
    classes = set(test_classes())
    for m in muts:
        where = f"[{m.id}]"
        if m.id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(m.id)
        path = (base / m.rel).resolve()
        if not str(path).startswith(str((base / "Sources" / "nanochat").resolve()) + os.sep):
            problems.append(f"{where}: file {m.file} is not under Sources/nanochat/")
            continue
        if not path.is_file():
            problems.append(f"{where}: {m.rel} not found")
            continue
        if not m.find:
            problems.append(f"{where}: empty find")
            continue
        if "\n" in m.replace or "\n" in m.find:
            problems.append(f"{where}: find and replace must be one line")
        if m.replace == m.find:
            problems.append(f"{where}: replace is the same as find")
        count = path.read_text(encoding="utf-8").count(m.find)
        if count != 1:
            problems.append(f"{where}: find text occurs {count} times in {m.rel} (must be exactly once): {m.find!r}")
        if not m.tests:
            problems.append(f"{where}: no test classes")
        for t in m.tests:
            if t not in classes:
                problems.append(f"{where}: test class {t} not found in Tests/nanochatTests (have: {', '.join(sorted(classes))})")
    return problems


def folder_counts(muts):
    counts = {}
    for m in muts:
        counts[m.folder] = counts.get(m.folder, 0) + 1
    folders = sorted(p.name for p in SOURCES.iterdir() if p.is_dir())
    return [(f, counts.get(f, 0)) for f in folders] + [(f, c) for f, c in sorted(counts.items()) if f not in folders]


# ---------------------------------------------------------------------------------------- scratch copy

def repo_files():
    """Tracked files plus untracked ones git does not ignore, relative to the repo (those that exist)."""
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         check=True, capture_output=True).stdout.decode("utf-8", "surrogateescape")
    files = sorted({f for f in out.split("\0") if f})
    files = [f for f in files if (REPO / f).is_file() or (REPO / f).is_symlink()]
    if (REPO / "Package.resolved").is_file() and "Package.resolved" not in files:
        files.append("Package.resolved")  # ignored by git, but pins the dependencies
    return files


def safe_scratch(path):
    s = Path(path).expanduser().resolve()
    r = REPO.resolve()
    if s == r or r in s.parents or s in r.parents or s == Path("/") or s == Path.home().resolve():
        sys.exit(f"mutate: refusing scratch folder {s}: it must be outside the repository {r} (and not contain it)")
    if s.exists() and any(s.iterdir()) and not (s / MARKER).exists():
        sys.exit(f"mutate: {s} exists, is not empty and was not made by this script ({MARKER} missing); choose another --scratch")
    return s


def same_bytes(a, b):
    try:
        return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def sync_scratch(scratch, copy_build=True, say=print):
    """Makes or refreshes the scratch copy. Returns the number of files copied."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / MARKER).write_text("made by tools/mutate.py; safe to delete\n")
    files = repo_files()
    copied = 0
    for f in files:
        src, dst = REPO / f, scratch / f
        if src.is_symlink():
            if dst.is_symlink() and os.readlink(dst) == os.readlink(src):
                continue
            if dst.exists() or dst.is_symlink():
                dst.unlink()
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(src), dst)
            copied += 1
            continue
        if dst.is_file() and not dst.is_symlink() and same_bytes(src, dst):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink():
            dst.unlink()
        shutil.copyfile(src, dst)  # new mtime: the build sees the change
        shutil.copymode(src, dst)
        copied += 1
    # Files an earlier sync copied that the repository no longer has.
    manifest = scratch / MANIFEST
    if manifest.exists():
        keep = set(files)
        for f in manifest.read_text(encoding="utf-8").split("\n"):
            p = (scratch / f).resolve() if f else None
            if f and f not in keep and p and scratch.resolve() in p.parents and (p.is_file() or p.is_symlink()):
                p.unlink()
    manifest.write_text("\n".join(files) + "\n", encoding="utf-8")
    if copy_build and not (scratch / ".build").exists() and (REPO / ".build").is_dir():
        say(f"mutate: copying {REPO / '.build'} into the scratch copy once (saves fetching dependencies)")
        # Only the fetched dependencies: compiled modules remember their absolute paths (clang's module
        # cache refuses to load from a moved folder), so the scratch copy compiles its own.
        (scratch / ".build").mkdir()
        for name in ("checkouts", "repositories", "workspace-state.json"):
            src = REPO / ".build" / name
            if src.is_dir():
                shutil.copytree(src, scratch / ".build" / name, symlinks=True, ignore_dangling_symlinks=True)
            elif src.exists():
                shutil.copy2(src, scratch / ".build" / name)
        fix_symlinks(scratch / ".build", REPO / ".build", scratch / ".build")
    return copied


def fix_symlinks(tree, old_root, new_root):
    """Absolute symlinks into the repo's .build would make the scratch build write there: re-point them."""
    old = str(old_root.resolve())
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                target = os.readlink(p)
                if os.path.isabs(target) and (target == old or target.startswith(old + os.sep)):
                    p.unlink()
                    os.symlink(str(new_root) + target[len(old):], p)


class Pristine:
    """The unmutated contents of every file a mutation touches, and restoring them."""

    def __init__(self, scratch, muts):
        self.scratch = scratch
        self.files = {m.rel: (REPO / m.rel).read_bytes() for m in muts}

    def write(self, rel, data):
        p = self.scratch / rel
        before = p.stat().st_mtime_ns if p.exists() else None
        p.write_bytes(data)
        if before is not None and p.stat().st_mtime_ns == before:  # coarse clock: make sure the build notices
            os.utime(p, ns=(before + 1_000_000, before + 1_000_000))

    def restore(self):
        for rel, data in self.files.items():
            p = self.scratch / rel
            if not p.is_file() or p.read_bytes() != data:
                self.write(rel, data)

    def is_pristine(self):
        return all((self.scratch / rel).read_bytes() == data for rel, data in self.files.items())

    def apply(self, m):
        text = self.files[m.rel].decode("utf-8")
        if text.count(m.find) != 1:
            raise ValueError(f"[{m.id}]: find text occurs {text.count(m.find)} times in {m.rel}")
        self.write(m.rel, text.replace(m.find, m.replace, 1).encode("utf-8"))


# ---------------------------------------------------------------------------------------- running

def run_logged(cmd, cwd, log, timeout, env=None):
    """Runs cmd (its own process group) with output to `log`. Returns (exit code or None on timeout, output)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        # Its own session: Ctrl-C reaches only this script, which then ends the group it started.
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            rc = None
        except BaseException:  # Ctrl-C, SIGTERM
            kill_group(proc)
            raise
    return rc, log.read_text(encoding="utf-8", errors="replace")


def kill_group(proc):
    """Ends the process group this script started for `proc` (by its id), and waits for it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


FAILED_LINUX = re.compile(r"Test Case '(?:\w+\.)?(\w+)\.(\w+)' failed")
FAILED_DARWIN = re.compile(r"Test Case '-\[(?:\w+\.)?(\w+) (\w+)\]' failed")
STARTED = re.compile(r"Test Case '(?:-\[)?(?:\w+\.)?(\w+)[. ](\w+)\]?' started")
PASSED_ANY = re.compile(r"Test Case '(?:-\[)?(?:\w+\.)?(\w+)[. ](\w+)\]?' passed")


def filter_for(classes):
    """SwiftPM matches --filter against each test's "Module.Class/test" (the module prefix made optional
    in case a platform's test listing leaves it out); ^ and / pin whole class names."""
    return "^(" + TEST_MODULE + r"\.)?(" + "|".join(classes) + ")/"


def run_tests(scratch, classes, log, timeout):
    """One `swift test` run over `classes` (None = all). Returns (outcome, tests, passed):
    outcome is 'pass', 'failed', 'crashed' or 'timeout'; tests names the failing (or crashing) tests."""
    cmd = list(TEST_CMD) + ([] if classes is None else ["--filter", filter_for(classes)])
    tmp = scratch / TMP / "run"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = dict(os.environ, TMPDIR=str(tmp) + "/", NANOCHAT_BIN=str(scratch / BINARY))
    try:
        rc, out = run_logged(cmd, scratch, log, timeout, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    failed = []
    for rx in (FAILED_LINUX, FAILED_DARWIN):
        for c, t in rx.findall(out):
            name = f"{c}.{t}"
            if name not in failed:
                failed.append(name)
    passed = len(set(PASSED_ANY.findall(out)))
    if rc is None:
        started = STARTED.findall(out)
        return "timeout", ([f"{started[-1][0]}.{started[-1][1]}"] if started else []), passed
    if failed:
        return "failed", failed, passed
    if rc != 0:
        started = STARTED.findall(out)
        return "crashed", ([f"{started[-1][0]}.{started[-1][1]}"] if started else []), passed
    return "pass", [], passed


def fmt_secs(s):
    return f"{s:5.0f} s"


def describe(outcome, tests):
    shown = ", ".join(tests[:3]) + (f" (+{len(tests) - 3} more)" if len(tests) > 3 else "")
    if outcome == "failed":
        return shown
    if outcome == "crashed":
        return "crashed" + (f" in {shown}" if shown else "")
    if outcome == "timeout":
        return "timeout" + (f" in {shown}" if shown else "")
    return shown


class Report:
    def __init__(self, header):
        self.lines = list(header)
        self.results = []  # (mutation, status, detail, seconds)

    def say(self, line=""):
        print(line, flush=True)
        self.lines.append(line)

    def add(self, m, status, detail, secs):
        self.results.append((m, status, detail, secs))
        self.say(f"{m.id:<44} {status:<12} {fmt_secs(secs)}  {detail}")

    def summary(self, interrupted=False, total=None):
        res = self.results
        caught = [r for r in res if r[1] == "CAUGHT"]
        survived = [r for r in res if r[1] == "SURVIVED"]
        broken = [r for r in res if r[1] == "BUILD-FAILED"]
        built = len(caught) + len(survived)
        self.say()
        if interrupted:
            self.say(f"INTERRUPTED after {len(res)} of {total} mutations.")
        pct = 100.0 * len(caught) / built if built else 0.0
        self.say(f"caught {len(caught)} of {built} = {pct:.0f}%"
                 + (f"  ({len(broken)} build failures, not counted)" if broken else ""))
        by_expected = sum(1 for r in caught if r[2].startswith("[expected]"))
        if caught:
            self.say(f"  {by_expected} caught by the expected test classes, {len(caught) - by_expected} only by the rest of the suite")
        if survived:
            self.say()
            self.say("SURVIVED (the suite cannot tell these bugs from the real code; write tests):")
            for m, _, _, _ in survived:
                eq = f"  [equivalent: {m.equivalent}]" if m.equivalent else ""
                self.say(f"  {m.id} ({m.rel}; belongs in {', '.join(m.tests)}): {m.why}{eq}")
        if broken:
            self.say()
            self.say("BUILD-FAILED (fix these entries in tools/mutations.txt):")
            for m, _, detail, _ in broken:
                self.say(f"  {m.id} ({m.rel}): {detail}")

    def write(self):
        REPORT_FILE.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def git_describe():
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
        return commit + (" (uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def mutate_one(m, scratch, pristine, classes, args, report):
    logs = scratch / LOGS
    t0 = time.time()
    pristine.restore()
    pristine.apply(m)
    rc, out = run_logged(BUILD_CMD, scratch, logs / f"{m.id}.build.log", args.build_timeout)
    if rc != 0:
        errors = [l.strip() for l in out.splitlines() if " error: " in l or l.startswith("error:")]
        why = "timeout" if rc is None else (errors[0][:200] if errors else f"exit {rc}")
        report.add(m, "BUILD-FAILED", f"{why}  (log: {logs / (m.id + '.build.log')})", time.time() - t0)
        pristine.restore()
        return
    expected = [c for c in m.tests if c in classes]
    rest = [c for c in classes if c not in expected]
    for label, group in (("expected", expected), ("rest", rest)):
        if not group:
            continue
        outcome, tests, _ = run_tests(scratch, group, logs / f"{m.id}.test-{label}.log", args.timeout)
        if outcome != "pass":
            report.add(m, "CAUGHT", f"[{label}] {describe(outcome, tests)}", time.time() - t0)
            pristine.restore()
            return
    report.add(m, "SURVIVED", "", time.time() - t0)
    pristine.restore()


class BaselineFailed(Exception):
    pass


def prepare(muts, args):
    """The scratch folder and the test classes, once the mutation list checks out."""
    scratch = safe_scratch(args.scratch)
    problems = check(muts)
    if problems:
        sys.exit("mutate: fix tools/mutations.txt first:\n  " + "\n  ".join(problems))
    return scratch, test_classes()


def run(muts, args):
    scratch, classes = prepare(muts, args)
    print(f"mutate: scratch copy {scratch}", flush=True)
    n = sync_scratch(scratch)
    print(f"mutate: {n} files copied or updated from {REPO}", flush=True)
    pristine = Pristine(scratch, muts)
    pristine.restore()
    report = Report([
        f"# tools/mutate.py report, {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"# commit {git_describe()}; scratch {scratch}; {len(muts)} mutations; test classes: {', '.join(classes)}",
        f"# build: {' '.join(BUILD_CMD)}",
        f"# tests: {' '.join(TEST_CMD)} --filter '{filter_for(['A', 'B'])}'",
        "",
    ])
    for line in report.lines:
        print(line)
    interrupted = False
    try:
        if not args.skip_baseline:
            t0 = time.time()
            rc, out = run_logged(BUILD_CMD, scratch, scratch / LOGS / "baseline.build.log", args.build_timeout)
            if rc != 0:
                raise BaselineFailed(f"the UNMUTATED build fails ({'timeout' if rc is None else f'exit {rc}'}); "
                         f"see {scratch / LOGS / 'baseline.build.log'}. Fix the build before testing mutations.")
            tb = time.time() - t0
            outcome, tests, passed = run_tests(scratch, None, scratch / LOGS / "baseline.test.log", args.timeout)
            ts = time.time() - t0 - tb
            if outcome != "pass":
                raise BaselineFailed(f"the UNMUTATED suite does not pass ({describe(outcome, tests) or outcome}); "
                         f"see {scratch / LOGS / 'baseline.test.log'}. Mutation results would mean nothing.")
            report.say(f"{'baseline (unmutated)':<44} {'PASS':<12} {fmt_secs(tb + ts)}  build {tb:.0f} s, "
                       f"full suite {ts:.0f} s ({passed} tests)")
        else:
            report.say("baseline skipped (--skip-baseline)")
        for m in muts:
            mutate_one(m, scratch, pristine, classes, args, report)
    except KeyboardInterrupt:
        interrupted = True
        print("\nmutate: interrupted; restoring the scratch copy", flush=True)
    except BaselineFailed as e:
        pristine.restore()
        report.say(f"mutate: {e}")
        report.write()
        sys.exit(2)
    finally:
        pristine.restore()
        shutil.rmtree(scratch / TMP, ignore_errors=True)
    report.summary(interrupted, len(muts))
    report.write()
    print(f"mutate: report written to {REPORT_FILE}")
    if interrupted:
        sys.exit(130)


def dry_run(muts, args):
    """The scratch logic without building: apply and restore every mutation in the scratch copy."""
    scratch, classes = prepare(muts, args)
    n = sync_scratch(scratch, copy_build=False)
    print(f"mutate: scratch copy {scratch}: {n} files copied or updated from {REPO}")
    problems = check(muts, base=scratch)
    if problems:
        sys.exit("mutate: the scratch copy differs from the repository:\n  " + "\n  ".join(problems))
    pristine = Pristine(scratch, muts)
    pristine.restore()
    bad = 0
    try:
        for m in muts:
            p = scratch / m.rel
            before = p.read_text(encoding="utf-8")
            pristine.apply(m)
            after = p.read_text(encoding="utf-8")
            changed = after != before and after == before.replace(m.find, m.replace, 1)
            old_lines, new_lines = before.split("\n"), after.split("\n")
            lines_changed = sum(1 for a, b in zip(old_lines, new_lines) if a != b) if len(old_lines) == len(new_lines) else -1
            pristine.restore()
            restored = pristine.is_pristine() and p.read_bytes() == (REPO / m.rel).read_bytes()
            ok = changed and restored and lines_changed == 1
            bad += not ok
            rest = [c for c in classes if c not in m.tests]
            print(f"{m.id:<44} {'ok' if ok else 'PROBLEM':<8} 1 line changed in {m.rel}, restored; "
                  f"tests first: --filter '{filter_for(m.tests)}', then {len(rest)} other classes"
                  if ok else f"{m.id:<44} PROBLEM  changed={changed} lines={lines_changed} restored={restored}")
    finally:
        pristine.restore()
    print(f"mutate: dry run: {len(muts) - bad} of {len(muts)} mutations apply and restore cleanly; "
          f"scratch copy pristine: {pristine.is_pristine()}")
    sys.exit(1 if bad else 0)


def on_sigterm(signum, frame):
    raise KeyboardInterrupt  # handled like Ctrl-C: end the child, restore, report


def main():
    ap = argparse.ArgumentParser(description="Mutation testing: does the XCTest suite catch planted bugs? (see the file header)")
    ap.add_argument("--only", help="comma-separated mutation ids")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--check", action="store_true", help="check the mutation list (no building) and exit")
    ap.add_argument("--dry-run", action="store_true", help="apply and restore each mutation in the scratch copy, no building")
    ap.add_argument("--scratch", default=DEFAULT_SCRATCH, help=f"scratch copy of the repository (default {DEFAULT_SCRATCH})")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per test run before it counts as caught (default 900)")
    ap.add_argument("--build-timeout", type=float, default=3600, help="seconds per build (default 3600)")
    ap.add_argument("--skip-baseline", action="store_true", help="do not build and test the unmutated copy first")
    ap.add_argument("--release", action="store_true", help="build as ./run.sh test does (slower: whole-module optimisation)")
    args = ap.parse_args()
    if args.release:
        use_release_flags()

    muts, problems = load_mutations()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in wanted if w not in {m.id for m in muts}]
        if unknown:
            sys.exit(f"mutate: unknown mutation id(s): {', '.join(unknown)} (see --list)")
        muts = [m for m in muts if m.id in wanted]

    if args.check:
        problems += check(muts)
        counts = folder_counts(muts)
        print(f"{len(muts)} mutations: " + ", ".join(f"{f} {c}" for f, c in counts))
        missing = [f for f, c in counts if c == 0]
        if missing and not args.only:
            problems.append(f"no mutation in Sources/nanochat/{', '.join(missing)}")
        for p in problems:
            print("PROBLEM: " + p)
        print("ok" if not problems else f"{len(problems)} problem(s)")
        sys.exit(1 if problems else 0)
    if problems:
        sys.exit("mutate: tools/mutations.txt has problems (run --check):\n  " + "\n  ".join(problems))
    if args.list:
        for m in muts:
            print(f"{m.id}  [{m.rel}]  tests: {', '.join(m.tests)}")
            print(f"    {m.why}" + (f"  [equivalent: {m.equivalent}]" if m.equivalent else ""))
        print(f"{len(muts)} mutations: " + ", ".join(f"{f} {c}" for f, c in folder_counts(muts)))
        return
    signal.signal(signal.SIGTERM, on_sigterm)
    if args.dry_run:
        dry_run(muts, args)
    else:
        run(muts, args)


if __name__ == "__main__":
    main()
