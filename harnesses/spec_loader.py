"""Reads an ftfuzz extension spec (TOML) for harnesses/spec.c.

Embedded in the fuzz targets (spec.c), run once when a target starts,
before any execution: it parses the spec with the stdlib's tomllib,
checks every field, imports the modules, runs the prelude and compiles
each constructor, operation and state expression into a function.  The
format is described in docs/extension-spec.md.

load(text, origin, base_dir, limits) returns (preamble, types); limits
is the table of include/ftfuzz/limits.def (name -> value) that spec.c
passes, so that no limit is written here again.  preamble is the
Python that recreates the spec's namespace in a reproducer (repro.py);
each type is (name, new, new_text, state, ops) and each op is
(method, function, arg_kinds, atomic, text), where the *_text fields are
templates for reports: "\\x01" followed by a digit stands for a value
that is only known in an execution (see spec.c).
"""
import builtins
import io
import os
import sys
import tokenize
import tomllib

# Argument kinds, in the order spec.c numbers them.
ARG_KINDS = ("int", "index", "byte", "bool", "str", "bytes", "float",
             "none", "object")
TOP_KEYS = {"version", "path", "imports", "prelude", "type"}
TYPE_KEYS = {"name", "new", "state", "op"}
OP_KEYS = {"method", "expr", "args", "atomic"}


class SpecError(Exception):
    pass


def template(expr, names, where):
    """expr with each free use of a name in `names` replaced by \\x01 and
    its index; a name after a dot (an attribute) is left alone."""
    if "\n" in expr or "\r" in expr:
        raise SpecError(f"{where}: must be one line: {expr!r}")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(expr).readline))
    except (tokenize.TokenError, SyntaxError) as e:
        raise SpecError(f"{where}: cannot read {expr!r}: {e}") from None
    out, pos, prev = [], 0, None
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string in names and prev != ".":
            start, end = tok.start[1], tok.end[1]
            out.append(expr[pos:start])
            out.append("\x01" + str(names.index(tok.string)))
            pos = end
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER):
            prev = tok.string
    out.append(expr[pos:])
    return "".join(out)


def compile_lambda(params, expr, where, namespace):
    src = f"lambda {params}: ({expr})"
    try:
        code = compile(src, where, "eval")
    except SyntaxError as e:
        raise SpecError(f"{where}: not a Python expression: {expr!r} "
                        f"({e.msg})") from None
    return eval(code, namespace)


def check_keys(table, allowed, where):
    if not isinstance(table, dict):
        raise SpecError(f"{where}: must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(unknown)} (known: "
                        f"{', '.join(sorted(allowed))})")


def string(table, key, where, required=False):
    value = table.get(key)
    if value is None:
        if required:
            raise SpecError(f"{where}: missing '{key}'")
        return None
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def load(text, origin, base_dir, limits):
    MAX_TYPES = limits["SPEC_MAX_TYPES"]
    MAX_OPS = limits["SPEC_MAX_OPS"]
    MAX_ARGS = limits["SPEC_MAX_ARGS"]
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{origin}: not valid TOML: {e}") from None
    check_keys(spec, TOP_KEYS, origin)
    if spec.get("version", 1) != 1:
        raise SpecError(f"{origin}: version {spec['version']!r} is not "
                        f"supported (this ftfuzz reads version 1)")

    preamble = ["import sys"]
    paths = spec.get("path", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise SpecError(f"{origin}: 'path' must be a list of directories")
    resolved = [os.path.normpath(os.path.join(base_dir, p)) for p in paths]
    for p in resolved:
        if not os.path.isdir(p):
            raise SpecError(f"{origin}: path {p} is not a directory")
    if resolved:
        sys.path[:0] = resolved
        preamble.append(f"sys.path[:0] = {resolved!r}")

    namespace = {"__name__": "__ftfuzz_spec__", "__builtins__": builtins}
    imports = spec.get("imports", [])
    if not isinstance(imports, list) or not all(isinstance(m, str) for m in imports):
        raise SpecError(f"{origin}: 'imports' must be a list of module names")
    for name in imports:
        try:
            __import__(name)
        except Exception as e:
            raise SpecError(f"{origin}: cannot import {name}: "
                            f"{type(e).__name__}: {e} (sys.path: "
                            f"{sys.path[:len(resolved) + 1]})") from None
        top = name.partition(".")[0]
        namespace[top] = sys.modules[top]
        preamble.append(f"import {name}")

    prelude = spec.get("prelude", "")
    if not isinstance(prelude, str):
        raise SpecError(f"{origin}: 'prelude' must be a string of Python")
    if prelude.strip():
        try:
            exec(compile(prelude, f"{origin}:prelude", "exec"), namespace)
        except Exception as e:
            raise SpecError(f"{origin}: the prelude failed: "
                            f"{type(e).__name__}: {e}") from None
        preamble.extend(prelude.strip("\n").splitlines())

    raw_types = spec.get("type")
    if not isinstance(raw_types, list) or not raw_types:
        raise SpecError(f"{origin}: no [[type]]: declare at least one type "
                        f"to fuzz")
    if len(raw_types) > MAX_TYPES:
        raise SpecError(f"{origin}: {len(raw_types)} types, at most "
                        f"{MAX_TYPES}")
    types, names = [], set()
    for ti, t in enumerate(raw_types):
        where = f"{origin}: type {ti + 1}"
        check_keys(t, TYPE_KEYS, where)
        name = string(t, "name", where, required=True)
        if not name.isidentifier():
            raise SpecError(f"{where}: name {name!r} must be an identifier")
        if name in names:
            raise SpecError(f"{where}: a second type named {name}")
        names.add(name)
        where = f"{origin}: type {name}"
        new = string(t, "new", where, required=True)
        new_fn = compile_lambda("n, src", new, f"{where}: new", namespace)
        new_text = template(new, ["n", "src"], f"{where}: new")
        try:
            new_fn(3, None)
        except Exception as e:
            raise SpecError(f"{where}: new = {new!r} fails with n=3 and "
                            f"src=None: {type(e).__name__}: {e}") from None
        state = string(t, "state", where)
        state_fn = (compile_lambda("o", state, f"{where}: state", namespace)
                    if state else None)
        raw_ops = t.get("op")
        if not isinstance(raw_ops, list) or not raw_ops:
            raise SpecError(f"{where}: no [[type.op]]: declare at least one "
                            f"operation")
        if len(raw_ops) > MAX_OPS:
            raise SpecError(f"{where}: {len(raw_ops)} operations, at most "
                            f"{MAX_OPS}")
        ops = []
        for oi, op in enumerate(raw_ops):
            owhere = f"{where}: op {oi + 1}"
            check_keys(op, OP_KEYS, owhere)
            method = string(op, "method", owhere)
            expr = string(op, "expr", owhere)
            if (method is None) == (expr is None):
                raise SpecError(f"{owhere}: give exactly one of 'method' "
                                f"and 'expr'")
            args = op.get("args", [])
            if (not isinstance(args, list) or len(args) > MAX_ARGS
                    or not all(a in ARG_KINDS for a in args)):
                raise SpecError(f"{owhere}: 'args' must be a list of at most "
                                f"{MAX_ARGS} of {', '.join(ARG_KINDS)}; got "
                                f"{args!r}")
            atomic = op.get("atomic", False)
            if not isinstance(atomic, bool):
                raise SpecError(f"{owhere}: 'atomic' must be true or false")
            kinds = [ARG_KINDS.index(a) for a in args]
            if method:
                if not method.isidentifier():
                    raise SpecError(f"{owhere}: method {method!r} must be an "
                                    f"identifier (use 'expr' for anything "
                                    f"else)")
                text = ("\x010." + method + "("
                        + ", ".join("\x01" + str(i + 1)
                                    for i in range(len(args))) + ")")
                ops.append((sys.intern(method), None, kinds, atomic, text))
            else:
                fn = compile_lambda("o, a, b, c, other", expr,
                                    f"{owhere}: expr", namespace)
                text = template(expr, ["o", "a", "b", "c", "other"],
                                f"{owhere}: expr")
                ops.append((None, fn, kinds, atomic, text))
        types.append((name, new_fn, new_text, state_fn, ops))
    return "\n".join(preamble), types
