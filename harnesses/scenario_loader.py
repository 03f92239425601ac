"""Reads an ftfuzz scenario (docs/explore.md) for harnesses/spec.c.

A scenario is a small threaded test in Python, run by `ftfuzz explore
test.py`.  It is turned into a spec of one type, "scenario", whose object
is what setup() returns and whose operations are the thread functions;
the program ftfuzz explore runs gives each thread one of them.  Unlike a
spec's operations, an exception escaping a thread function is a finding,
and so is a check(state) that raises or returns a false value.

Kept apart from spec_loader.py, and run only for a scenario: whatever the
interpreter allocates while it starts moves the scheduling points of the
targets' executions, so the built-in spec's loading stays as it was.

load_scenario(text, origin, base_dir, limits) returns (preamble, types)
in the shape spec_loader.load() gives (limits: include/ftfuzz/limits.def
as a dict, from spec.c), each type with a sixth field, the check,
and each op with a sixth field, may_raise (always False here).
"""
import builtins
import inspect
import sys


class SpecError(Exception):
    pass


def load_scenario(text, origin, base_dir, limits):
    """A scenario (docs/explore.md): a Python file with an optional
    setup() whose result the threads share, two or more thread functions
    (every top-level function whose name starts with "thread", in the
    order of the file, or the list THREADS), and an optional check(state).
    It becomes a spec of one type whose operations are the thread
    functions: an exception escaping one, or a check that raises or
    returns a false value, is a finding."""
    namespace = {"__name__": "__ftfuzz_scenario__", "__file__": origin,
                 "__builtins__": builtins}
    sys.path.insert(0, base_dir)
    try:
        exec(compile(text, origin, "exec"), namespace)
    except SyntaxError as e:
        raise SpecError(f"{origin}:{e.lineno}: not valid Python: "
                        f"{e.msg}") from None
    except Exception as e:
        raise SpecError(f"{origin}: running it failed: "
                        f"{type(e).__name__}: {e}") from None
    threads = namespace.get("THREADS")
    if threads is None:
        threads = [v for k, v in namespace.items()
                   if k.startswith("thread") and inspect.isfunction(v)
                   and v.__module__ == "__ftfuzz_scenario__"]
    elif not isinstance(threads, (list, tuple)) or not all(
            callable(f) for f in threads):
        raise SpecError(f"{origin}: THREADS must be a list of functions")
    MAX_THREADS = limits["PROG_MAX_THREADS"]
    if not 2 <= len(threads) <= MAX_THREADS:
        raise SpecError(f"{origin}: {len(threads)} thread function"
                        f"{'' if len(threads) == 1 else 's'}: define 2 to "
                        f"{MAX_THREADS} functions named thread_* (or a "
                        f"list THREADS)")
    setup = namespace.get("setup")
    check = namespace.get("check")
    for name, fn in (("setup", setup), ("check", check)):
        if fn is not None and not callable(fn):
            raise SpecError(f"{origin}: {name} must be a function")

    def arity(fn, name):
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return 1
        required = [p for p in params if p.default is p.empty and p.kind in
                    (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(required) > 1:
            raise SpecError(f"{origin}: {name} takes {len(required)} "
                            f"arguments; it gets one, the state setup() "
                            f"returned")
        return len(required)

    def shared_state(n, src):
        return setup() if setup is not None else None

    ops = []
    for i, fn in enumerate(threads):
        name = getattr(fn, "__name__", f"THREADS[{i}]")
        if arity(fn, name):
            call = (lambda f: lambda o, a, b, c, other: f(o))(fn)
            op_text = f"{name}(\x010)"
        else:
            call = (lambda f: lambda o, a, b, c, other: f())(fn)
            op_text = f"{name}()"
        ops.append((None, call, [], False, op_text, False))
    check_fn = None
    if check is not None:
        if arity(check, "check"):
            check_fn = lambda o: check(o)
        else:
            check_fn = lambda o: check()
    try:
        shared_state(0, None)
    except Exception as e:
        raise SpecError(f"{origin}: setup() fails: {type(e).__name__}: "
                        f"{e}") from None
    preamble = "\n".join(["import sys", f"sys.path.insert(0, {base_dir!r})",
                          text.rstrip("\n")])
    return preamble, [("scenario", shared_state,
                       "setup()" if setup is not None else "None",
                       None, ops, check_fn)]
