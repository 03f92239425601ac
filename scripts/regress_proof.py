#!/usr/bin/env python3
"""`make regress-proof`: `ftfuzz regress --cpython` on CPython 3.13.5 with
the patches tests/regress-proof-*.patch, and the statuses each must give.

  startup  one more atomic point in thread start-up (new_threadstate),
           outside every race: every input ok or ok (moved)
  helpers  one more atomic point in PyIter_Next, list_extend_iter_lock_held
           and _PyObject_GC_New, which the racing operations pass through:
           every input ok or ok (moved)
  fix      the dict iterator (gh-154130) and generic-alias iterator
           (gh-154043) races fixed as upstream did, PY_VERSION 3.13.5+:
           exactly those two fixed, every other input ok or ok (moved)

Each patched tree is unpacked into build/regress-proof/NAME from the
verified 3.13.5 tarball; its CPython build is cached by source hash like
any --cpython build (about 4 minutes each on 2 idle cores, the first
time).  Prints one table of every input under every patch and exits 1
when a status is not the one expected.  Python 3 standard library only.
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "regress-proof")
FIXED_BY_FIX = {"dict_iter_exhausted", "generic_alias_iter_next"}
CASES = ("startup", "helpers", "fix")
ROW = re.compile(r"^(?P<name>[a-z_0-9]+)\s+.*?\s{2}(?P<status>ok \(moved\)|ok|"
                 r"fixed|REGRESSION|MISMATCH|DIVERGED|ERROR)$")


def tree(name):
    """build/regress-proof/NAME: 3.13.5 with the patch applied."""
    patch = os.path.join(ROOT, "tests", f"regress-proof-{name}.patch")
    src = os.path.join(OUT, name)
    stamp = os.path.join(OUT, f"{name}.applied")
    text = open(patch, "rb").read()
    if os.path.isfile(stamp) and open(stamp, "rb").read() == text:
        return src
    tarball = subprocess.run(
        [os.path.join(ROOT, "scripts", "build-cpython.sh"), "--print-src"],
        capture_output=True, text=True, check=True).stdout.split()[-1]
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    subprocess.run(["tar", "-xf", tarball, "-C", src, "--strip-components=1"],
                   check=True)
    subprocess.run(["patch", "-s", "-p1", "-d", src], input=text, check=True)
    open(stamp, "wb").write(text)
    return src


def statuses(name, jobs):
    src = tree(name)
    log = os.path.join(OUT, f"{name}.log")
    print(f"regress-proof: {name}: ftfuzz regress --cpython {src} "
          f"(log {os.path.relpath(log, ROOT)})", flush=True)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts",
                                                     "regress.py"),
                        "--cpython", src, "--runs", "1", "--jobs", str(jobs)],
                       capture_output=True, text=True)
    open(log, "w").write(r.stdout + r.stderr)
    got = {}
    for line in r.stdout.splitlines():
        m = ROW.match(line.strip())
        if m:
            got[m["name"]] = m["status"]
    if not got:
        print(r.stdout[-2000:] + r.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"regress-proof: {name}: no table (exit "
                         f"{r.returncode})")
    return got


def wanted(case, name):
    if case == "fix" and name in FIXED_BY_FIX:
        return {"fixed"}
    return {"ok", "ok (moved)"}


def main():
    os.makedirs(OUT, exist_ok=True)
    jobs = int(os.environ.get("JOBS", os.cpu_count() or 1))
    cases = sys.argv[1:] or list(CASES)
    results = {case: statuses(case, jobs) for case in cases}
    names = sorted(set().union(*results.values()))
    width = max(len(n) for n in names)
    print()
    print("input".ljust(width) + "".join(f"  {c:<12}" for c in cases))
    bad = []
    for n in names:
        cells = []
        for c in cases:
            s = results[c].get(n, "-")
            if s not in wanted(c, n):
                bad.append(f"{c}: {n} is {s}, expected "
                           f"{' or '.join(sorted(wanted(c, n)))}")
                s += " !"
            cells.append(f"  {s:<12}")
        print(n.ljust(width) + "".join(cells))
    print()
    for b in bad:
        print(f"regress-proof: {b}")
    print("regress-proof: " + ("FAILED" if bad else
                               "passed: every status as expected"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
