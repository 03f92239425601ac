"""The CPython fuzz targets: determinism and bad input.

Determinism is the product: an input must give the same trace hash in a
fresh process as it did in the campaign that found it, always.
"""
import os
import random
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "build", "fuzz")
HASH = re.compile(r"==ftfuzz== trace hash (0x[0-9a-f]{16}) steps (\d+)")


def target(name):
    path = os.path.join(FUZZ, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run 'make cpython all' first")
    return path


def run(args, timeout=900, **env):
    full = dict(os.environ, FTFUZZ_PRINT_HASH="1", **env)
    return subprocess.run(args, capture_output=True, text=True, env=full,
                          timeout=timeout)


def hashes_of(output):
    return [m.group(1) for m in HASH.finditer(output)]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Short campaigns from an empty corpus: the corpus files, and any
    crashing inputs they found (the targets find real races quickly)."""
    corpus = tmp_path_factory.mktemp("corpus")
    artifacts = tmp_path_factory.mktemp("artifacts")
    for seed in range(7, 17):
        r = run([target("fuzz_mixed"), "-runs=150", f"-seed={seed}",
                 f"-artifact_prefix={artifacts}/", str(corpus)])
        # 0: done; libFuzzer's error exit code: a crash it saved.
        assert r.returncode in (0, 77), r.stderr[-3000:]
        if r.returncode == 77:
            assert any(artifacts.iterdir()), "a crash without an artifact"
        if len(list(corpus.iterdir())) >= 40:
            break
    files = sorted(str(p) for p in corpus.iterdir())
    assert len(files) >= 20, "the campaigns kept too few inputs"
    return files, sorted(str(p) for p in artifacts.iterdir())


def test_corpus_replays_with_identical_trace_hashes(campaign):
    campaign, _ = campaign
    # All inputs in one process (as a campaign or -runs runs them) ...
    together = run([target("fuzz_mixed"), "-runs=1"] + campaign)
    assert together.returncode == 0, together.stderr[-3000:]
    in_one = hashes_of(together.stderr)
    assert len(in_one) == len(campaign)
    # ... and each alone in a fresh process, twice.
    for i, path in enumerate(campaign):
        for attempt in range(2):
            alone = run([target("fuzz_mixed"), path])
            assert alone.returncode == 0, alone.stderr[-3000:]
            got = hashes_of(alone.stderr)
            assert got == [in_one[i]], (
                f"{os.path.basename(path)}: hash {got} alone (attempt "
                f"{attempt + 1}), {in_one[i]} among the corpus")


def test_runs_really_interleave(campaign):
    """The corpus is not trivially deterministic: threads do switch."""
    campaign, _ = campaign
    r = run([target("fuzz_mixed"), "-runs=1"] + campaign)
    switches = [int(m) for m in re.findall(r"switches (\d+)", r.stderr)]
    assert max(switches) > 2
    steps = [int(m.group(2)) for m in HASH.finditer(r.stderr)]
    assert len(set(steps)) > 5


CRASH = re.compile(r"==ftfuzz== crash during an execution: signal (\d+), "
                   r"step (\d+), switches (\d+), trace hash (0x[0-9a-f]{16})")


def test_found_crashes_replay_identically(campaign):
    """Whatever the campaigns found crashes the same way alone, twice."""
    _, crashes = campaign
    for path in crashes[:5]:
        seen = set()
        for _ in range(2):
            r = run([target("fuzz_mixed"), path])
            assert r.returncode != 0
            m = CRASH.search(r.stderr)
            assert m, r.stderr[-2000:]
            seen.add(m.groups())
        assert len(seen) == 1, f"{path}: {seen}"


def test_random_and_truncated_inputs_are_valid_programs(tmp_path, campaign):
    campaign, _ = campaign
    rng = random.Random(1)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    n = 0
    for _ in range(9500):
        size = rng.choice([0, 1, 2, 3, 7, 16, 64, 300])
        (inputs / f"r{n}").write_bytes(rng.randbytes(size))
        n += 1
    # Truncations of real programs: every prefix length of a few inputs.
    for path in campaign[:5]:
        data = open(path, "rb").read()
        for cut in range(0, len(data), max(1, len(data) // 100)):
            if n >= 10000:
                break
            (inputs / f"t{n}").write_bytes(data[:cut])
            n += 1
    files = sorted(str(p) for p in inputs.iterdir())
    r = run([target("fuzz_list"), "-runs=1"] + files, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(hashes_of(r.stderr)) == n
