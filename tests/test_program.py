"""The program format and the structural mutator (fuzz/, docs/program-format.md).

C-side properties run in build/tests/fuzz/unit_program (and its ASan+UBSan
twin), which checks them itself and prints what it saw as JSON; the
clamping and wire-format tests build messages by hand here, independently of
protobuf-c's encoder.  The libFuzzer smoke target runs the custom mutator
inside libFuzzer.
"""
import json
import os
import subprocess

import pytest

from helpers import limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGS = os.path.join(ROOT, "build", "tests", "fuzz")
UNITS = ["unit_program", "unit_program_asan"]

# include/ftfuzz/limits.def
_L = limits()
MAX_OBJECTS, MAX_THREADS, MAX_OPS, MAX_SCHEDULE, MAX_SIZE = (
    _L["PROG_MAX_OBJECTS"], _L["PROG_MAX_THREADS"], _L["PROG_MAX_OPS"],
    _L["PROG_MAX_SCHEDULE"], _L["PROG_MAX_SIZE"])
# kinds decode modulo PROG_KIND_LIMIT (built-in kinds and spec types)
KIND_LIMIT, MAX_DEPTH = _L["PROG_KIND_LIMIT"], _L["PROG_MAX_DEPTH"]
STRATEGY_COUNT = 6   # enum prog_strategy (include/ftfuzz/program.h)
PPM = 1000000   # PROG_PPM: random's p is in millionths, at most 1


def prog(name):
    path = os.path.join(PROGS, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run 'make all' first")
    return path


def run(args, data=b"", timeout=300, env=None, cwd=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    r = subprocess.run(args, input=data, capture_output=True,
                       timeout=timeout, env=full_env, cwd=cwd)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout


def unit(*args, binary="unit_program", data=b""):
    return json.loads(run([prog(binary)] + [str(a) for a in args], data))


def decode(data):
    return unit("decode", data=data)


# --- a hand-written protobuf encoder (wire format only) -----------------------

def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def zigzag32(n):
    return ((n << 1) ^ (n >> 31)) & 0xFFFFFFFF


def msg(*fields):
    """fields: (number, value) with int -> varint, bytes -> length-delimited."""
    out = b""
    for number, value in fields:
        if value is None:
            continue
        out += (field_bytes(number, value) if isinstance(value, bytes)
                else field_varint(number, value))
    return out


def shared_object(kind=None, size=None, source=None):
    return msg((1, kind), (2, size), (3, source))


def op(code=None, target=None, other=None, arg=None):
    return msg((1, code), (2, target), (3, other),
               (4, None if arg is None else zigzag32(arg)))


def thread(*ops):
    return msg(*[(1, o) for o in ops])


def schedule(strategy=None, depth=None, seed=None, data=None, k=None,
             p_ppm=None):
    return msg((1, strategy), (2, depth), (3, seed), (4, data), (5, k),
               (6, p_ppm))


def program(objects=(), threads=(), sched=None):
    return msg(*[(1, o) for o in objects], *[(2, t) for t in threads],
               (3, sched))


def is_empty(p):
    return (p["objects"] == [] and p["threads"] == [] and p["schedule"] ==
            {"strategy": 0, "depth": 1, "seed": 0, "k": 0, "p_ppm": 0,
             "bytes": ""})


# --- decoding -----------------------------------------------------------------

def test_roundtrip_of_random_valid_programs():
    r = unit("roundtrip", 5000, 1)
    assert r["programs"] == 5000
    # full programs are among them, and fit the documented bound
    assert 1400 < r["largest"] <= r["max_encoded"] == _L["PROG_MAX_ENCODED"]


def test_every_field_decodes_from_its_documented_number():
    data = program(
        objects=[shared_object(kind=3, size=5, source=1),
                 shared_object(kind=11, size=15, source=0)],
        threads=[thread(op(code=7, target=1, other=0, arg=-3)),
                 thread(),
                 thread(op(code=1000, target=0, other=1, arg=2**31 - 1),
                        op(arg=-2**31))],
        sched=schedule(strategy=1, depth=5, seed=2**64 - 1,
                       data=b"\x05\x01\x81\x01\x02", k=300, p_ppm=10000))
    p = decode(data)
    assert p["rc"] == 0 and p["valid"] == 1
    assert p["objects"] == [{"kind": 3, "size": 5, "source": 1},
                            {"kind": 11, "size": 15, "source": 0}]
    assert p["threads"] == [
        [{"code": 7, "target": 1, "other": 0, "arg": -3}],
        [],
        [{"code": 1000, "target": 0, "other": 1, "arg": 2**31 - 1},
         {"code": 0, "target": 0, "other": 0, "arg": -2**31}],
    ]
    assert p["schedule"] == {"strategy": 1, "depth": 5, "seed": 2**64 - 1,
                             "k": 300, "p_ppm": 10000,
                             "bytes": "0501810102"}


def test_counts_are_cut_and_values_clamped():
    ops = [op(code=i, target=100 + i, other=9, arg=-5) for i in range(20)]
    data = program(
        objects=[shared_object(kind=999, size=1000 + i, source=77)
                 for i in range(12)],
        threads=[thread(*ops) for _ in range(50)],
        sched=schedule(strategy=7, depth=99, seed=12345,
                       data=bytes(range(256)) + b"\xaa" * 44,
                       p_ppm=2**32 - 1))
    p = decode(data)
    assert p["rc"] == 0 and p["valid"] == 1
    assert len(p["objects"]) == MAX_OBJECTS
    for i, o in enumerate(p["objects"]):
        assert o == {"kind": 999 % KIND_LIMIT, "size": (1000 + i) % MAX_SIZE,
                     "source": 77 % MAX_OBJECTS}
    assert len(p["threads"]) == MAX_THREADS
    for t in p["threads"]:
        # the first 16 ops, in order
        assert [o["code"] for o in t] == list(range(MAX_OPS))
        assert [o["target"] for o in t] == [(100 + i) % MAX_OBJECTS
                                           for i in range(MAX_OPS)]
        assert {o["other"] for o in t} == {9 % MAX_OBJECTS}
        assert {o["arg"] for o in t} == {-5}
    s = p["schedule"]
    assert s["strategy"] == 7 % STRATEGY_COUNT
    assert s["depth"] == MAX_DEPTH
    assert s["seed"] == 12345
    # random's p: at most 1 (PROG_PPM millionths)
    assert s["p_ppm"] == PPM
    assert s["bytes"] == bytes(range(256)).hex()


def test_indices_are_taken_modulo_the_object_count():
    data = program(objects=[shared_object(source=5)] * 3,
                   threads=[thread(op(target=4, other=2**32 - 1))])
    p = decode(data)
    assert [o["source"] for o in p["objects"]] == [2, 2, 2]
    assert p["threads"] == [[{"code": 0, "target": 1,
                              "other": (2**32 - 1) % 3, "arg": 0}]]


@pytest.mark.parametrize("depth,expected", [(None, 1), (0, 1), (1, 1), (5, 5),
                                            (8, 8), (9, 8), (2**32 - 1, 8)])
def test_depth_is_clamped_to_1_to_8(depth, expected):
    p = decode(program(sched=schedule(strategy=1, depth=depth)))
    assert p["rc"] == 0
    assert p["schedule"]["depth"] == expected


def test_ops_without_objects_are_dropped_and_threads_kept():
    p = decode(program(threads=[thread(op(code=1), op(code=2)), thread()]))
    assert p["rc"] == 0 and p["valid"] == 1
    assert p["objects"] == [] and p["threads"] == [[], []]


def test_absent_fields_decode_to_the_empty_program():
    for data in [b"", program(sched=schedule()),
                 program(sched=schedule(strategy=0, depth=1, seed=0,
                                        data=b""))]:
        p = decode(data)
        assert p["rc"] == 0 and is_empty(p)


def test_unknown_fields_are_ignored():
    data = program(objects=[shared_object(kind=2) + field_varint(9, 5)],
                   threads=[thread()]) + field_bytes(15, b"junk")
    p = decode(data)
    assert p["rc"] == 0
    assert p["objects"] == [{"kind": 2, "size": 0, "source": 0}]
    assert p["threads"] == [[]]


@pytest.mark.parametrize("data", [
    b"\xff",                      # field 31 with the invalid wire type 7
    b"\x0a",                      # objects: length missing
    b"\x0a\x05\x08",              # objects: cut short
    b"\x08\x01",                  # objects as a varint: wrong wire type
    b"\x12\x02\x0a\x05",          # an op longer than its thread
    b"\x1a\x02\x08\x80",          # strategy: unterminated varint
    b"\n",                        # libFuzzer's first input
])
def test_undecodable_input_is_the_empty_program(data):
    p = decode(data)
    assert p["rc"] == -1 and p["valid"] == 1 and is_empty(p)


@pytest.mark.parametrize("binary", UNITS)
def test_random_and_truncated_inputs_decode_to_valid_programs(binary):
    # unit_program checks rc in {0, -1}, every index in range, -1 => empty,
    # and that the decoded program re-encodes to itself
    r = unit("garbage", 10000, 7, binary=binary)
    assert r["inputs"] == 10000
    assert r["accepted"] + r["rejected"] == 10000
    assert r["accepted"] > 1000 and r["rejected"] > 1000
    assert r["nonempty"] > 1000


# --- encoding -----------------------------------------------------------------

def reencode(data):
    return run([prog("unit_program"), "reencode"], data)


def test_encoding_is_canonical():
    assert reencode(b"") == b""
    # defaults are left out; an all-default schedule is left out entirely
    assert reencode(program(objects=[shared_object(kind=0, size=0, source=0)],
                            sched=schedule(strategy=0, depth=1, seed=0,
                                           data=b""))) == b"\x0a\x00"
    # clamped values are written clamped, unknown fields dropped
    assert reencode(program(objects=[shared_object(kind=65)],
                            sched=schedule(depth=0, strategy=STRATEGY_COUNT))
                    + field_varint(9, 1)) == program(
                        objects=[shared_object(kind=1)])


def test_encoding_uses_the_documented_field_numbers():
    data = program(
        objects=[shared_object(kind=4, size=3, source=1), shared_object()],
        threads=[thread(op(code=9, target=1, other=1, arg=-7)), thread()],
        sched=schedule(strategy=2, depth=3, seed=99, data=b"\x01\x02"))
    assert reencode(data) == data
    # pct@mark's k (field 5) survives
    data = program(sched=schedule(strategy=4, depth=3, seed=7, k=500))
    assert reencode(data) == data
    # random's p (field 6) survives; absent means the default, 0.002
    data = program(sched=schedule(strategy=2, seed=7, p_ppm=10000))
    assert reencode(data) == data
    assert decode(program(sched=schedule(strategy=2)))["schedule"][
        "p_ppm"] == 0


# --- the mutator ----------------------------------------------------------------

def seed_input():
    return program(
        objects=[shared_object(kind=0, size=2, source=1),
                 shared_object(kind=4, size=3, source=2),
                 shared_object(kind=8, size=4)],
        threads=[thread(*[op(code=t * 4 + i, target=i % 3, other=t, arg=i)
                          for i in range(4)]) for t in range(3)],
        sched=schedule(data=b"\x05\x01\x81\x01\x02\x10\x00"))


def mutate(data, seed, max_size):
    return run([prog("unit_program"), "mutate", str(seed), str(max_size)],
               data)


@pytest.mark.parametrize("binary", UNITS)
def test_mutator_and_cross_over_are_deterministic_in_process(binary):
    r = unit("determinism", 500, 11, binary=binary)
    assert r["pairs"] == 500
    # another seed almost always gives another output
    assert r["differs_by_seed"] > 450


def test_mutator_is_deterministic_across_processes():
    data = seed_input()
    outputs = [mutate(data, seed, 4096) for seed in range(20)]
    assert outputs == [mutate(data, seed, 4096) for seed in range(20)]
    assert len(set(outputs)) >= 18
    for out in outputs:
        assert out != data
        assert decode(out)["rc"] == 0


@pytest.mark.parametrize("binary", UNITS)
def test_mutator_never_exceeds_max_size(binary):
    # every max_size in 1..4096, five inputs from the largest program to
    # garbage, mutation and cross-over: unit_program checks the bound, a
    # canary after it, and that every non-empty output is a program
    r = unit("maxsize", binary=binary)
    assert r["calls"] == 4096 * 5 * 2
    assert r["largest_input"] > 1400
    # the smallest non-empty program takes 2 bytes: only tiny limits can
    # leave nothing that fits
    assert r["largest_zero_max"] <= 3
    assert r["zero"] <= 20


def test_mutator_output_fits_small_limits():
    data = seed_input()
    for max_size in [2, 3, 4, 6, 10, 20, 40, len(data) - 1]:
        for seed in range(5):
            out = mutate(data, seed, max_size)
            assert len(out) <= max_size
            p = decode(out)
            assert p["rc"] == 0 and p["valid"] == 1


def test_mutations_of_every_kind_are_observed():
    r = unit("kinds", 1000, 3)
    assert r["mutations"] == 1000
    kinds = [k for k in r if k not in ("mutations", "min_threads_after_two",
                                       "unchanged")]
    assert len(kinds) == 23
    assert [k for k in kinds if r[k] == 0] == []
    # every mutation changes the program
    assert r["unchanged"] == 0
    # threads are only removed down to two
    assert r["min_threads_after_two"] >= 2


def test_half_the_mutations_change_only_the_schedule():
    # a race is usually where the threads switch in operations that are
    # already right: half the mutations keep them and move the switches
    r = unit("schedonly", 2000)
    assert r["mutations"] == 2000
    assert r["schedule_only"] >= 0.4 * 2000, r
    # and the rest still change the operations, threads or objects
    assert r["schedule_only"] <= 0.75 * 2000, r
    # a fifth of those draw a whole new random or pct@mark schedule (the
    # strategies that find races in the fewest tries); the rest tweak
    assert r["fresh_samples"] >= 0.15 * r["schedule_only"], r
    assert r["fresh_samples"] <= 0.5 * r["schedule_only"], r


def test_byte_mutator_hook_is_used_for_schedule_bytes_and_numbers():
    r = unit("bytehook", 1000)
    assert r["calls"] > 50
    # after prog_set_byte_mutator(NULL) the built-in one is used again
    assert r["calls_after_reset"] == 0
    assert r["marked_bytes"] > 0      # schedule bytes
    assert r["marked_seed"] > 0       # the 64-bit seed
    assert r["marked_code"] > 0       # op codes


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a", b"\n",
                                  b"hello world", bytes(range(200))])
def test_undecodable_input_is_mutated_into_a_program(data):
    assert decode(data)["rc"] == -1
    for seed in range(10):
        out = mutate(data, seed, 4096)
        p = decode(out)
        assert p["rc"] == 0 and p["valid"] == 1
        assert not is_empty(p)


def test_cross_over_output_decodes_within_max(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(seed_input())
    b.write_bytes(program(objects=[shared_object(kind=5)] * 2,
                          threads=[thread(op(code=50, arg=9))] * 4,
                          sched=schedule(strategy=1, depth=4, seed=7)))
    for max_size in [2, 8, 30, 100, 4096]:
        for seed in range(10):
            out = run([prog("unit_program"), "crossover", str(seed),
                       str(max_size), str(a), str(b)])
            assert len(out) <= max_size
            p = decode(out)
            assert p["rc"] == 0 and p["valid"] == 1


def test_cross_over_combines_both_parents():
    # parents tell apart by op codes (1000+ / 2000+), object kinds (1 / 2)
    # and seeds; unit_program also checks each op keeps its parent's objects
    r = unit("crossmix", 1000, 5)
    assert r["children"] == 1000
    assert r["ops_from_both"] > 800
    assert r["only_a"] + r["only_b"] + r["ops_from_both"] == 1000
    assert r["seed_a"] > 300 and r["seed_b"] > 300
    assert r["objects_from_both"] == 1000


# --- inside libFuzzer ---------------------------------------------------------

def libfuzzer(tmp_path, *args, env=None):
    return subprocess.run([prog("mutator_fuzz"), *args], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path,
                          env=dict(os.environ, **(env or {})))


def test_libfuzzer_runs_the_custom_mutator(tmp_path):
    # the target aborts on any input that is not a valid program, or whose
    # encoding does not decode to itself
    crossed = 0
    for seed in range(1, 5):
        r = libfuzzer(tmp_path, "-runs=20000", f"-seed={seed}")
        assert r.returncode == 0, r.stderr[-3000:]
        assert "found LLVMFuzzerCustomMutator" in r.stderr
        assert "Done 20000 runs" in r.stderr
        # libFuzzer names the mutation only of inputs it keeps, and this
        # target has five edges: some seeds keep none from a cross-over
        crossed += "CustomCrossOver" in r.stderr
    assert crossed, "no seed kept an input made by the custom cross-over"


def test_libfuzzer_reaches_a_structured_bug(tmp_path):
    # three threads each with op 42 on a deque, under pct: found in about
    # 21,000 runs with -seed=1 (4,600 to 24,000 over seeds 1..6; kinds range
    # over 64 values since spec types, and strategies over 4)
    r = libfuzzer(tmp_path, "-runs=60000", "-seed=1",
                  env={"FTFUZZ_SMOKE_BUG": "1"})
    assert r.returncode != 0
    assert "FOUND the structured bug" in r.stderr, r.stderr[-3000:]
