"""A small subset of CEL for CRD `x-kubernetes-validations` rules.

Supported: literals (int, double, string, bool, null, lists), `self`/`oldSelf`, field access and
indexing, `has(x.f)`, `size()`, `startsWith`/`endsWith`/`contains`/`matches`, `all`/`exists`/
`exists_one` macros, `in`, `int()`/`string()`/`double()`, arithmetic, comparisons, `!`, `&&`, `||`,
and the conditional operator. Anything else is a compile error, reported (not silently passed).
Rules that mention `oldSelf` are transition rules: they run only on update, when the old value exists.
"""

import re

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d+|\d+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!+\-*/%()\[\].,?:{}])
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
)""", re.VERBOSE)


class CelError(Exception):
    pass


class _Missing:
    pass


def tokenize(text):
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise CelError(f"unexpected character at {pos}: {text[pos:pos + 10]!r}")
        pos = m.end()
        for kind in ("num", "str", "op", "id"):
            if m.group(kind) is not None:
                out.append((kind, m.group(kind)))
                break
    out.append(("end", ""))
    return out


class Parser:
    """Recursive descent into a tuple AST."""

    def __init__(self, text):
        self.toks = tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self, value=None):
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            raise CelError(f"expected {value!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        e = self.ternary()
        if self.peek()[0] != "end":
            raise CelError(f"unexpected {self.peek()[1]!r}")
        return e

    def ternary(self):
        cond = self.or_()
        if self.peek()[1] == "?":
            self.take("?")
            a = self.ternary()
            self.take(":")
            b = self.ternary()
            return ("?", cond, a, b)
        return cond

    def or_(self):
        e = self.and_()
        while self.peek()[1] == "||":
            self.take()
            e = ("||", e, self.and_())
        return e

    def and_(self):
        e = self.rel()
        while self.peek()[1] == "&&":
            self.take()
            e = ("&&", e, self.rel())
        return e

    def rel(self):
        e = self.add()
        while self.peek()[1] in ("==", "!=", "<", "<=", ">", ">=", "in"):
            op = self.take()[1]
            e = (op, e, self.add())
        return e

    def add(self):
        e = self.mul()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            e = (op, e, self.mul())
        return e

    def mul(self):
        e = self.unary()
        while self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            e = (op, e, self.unary())
        return e

    def unary(self):
        if self.peek()[1] == "!":
            self.take()
            return ("!", self.unary())
        if self.peek()[1] == "-":
            self.take()
            return ("neg", self.unary())
        return self.member()

    def member(self):
        e = self.primary()
        while True:
            if self.peek()[1] == ".":
                self.take()
                name = self.take()[1]
                if self.peek()[1] == "(":
                    e = ("method", e, name, self.args())
                else:
                    e = ("field", e, name)
            elif self.peek()[1] == "[":
                self.take()
                idx = self.ternary()
                self.take("]")
                e = ("index", e, idx)
            else:
                return e

    def args(self):
        self.take("(")
        out = []
        while self.peek()[1] != ")":
            out.append(self.ternary())
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        return out

    def primary(self):
        kind, value = self.take()
        if kind == "num":
            return ("lit", float(value) if "." in value else int(value))
        if kind == "str":
            return ("lit", bytes(value[1:-1], "utf-8").decode("unicode_escape"))
        if kind == "id":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            if self.peek()[1] == "(":
                return ("call", value, self.args())
            return ("var", value)
        if value == "(":
            e = self.ternary()
            self.take(")")
            return e
        if value == "[":
            items = []
            while self.peek()[1] != "]":
                items.append(self.ternary())
                if self.peek()[1] == ",":
                    self.take()
            self.take("]")
            return ("list", items)
        raise CelError(f"unexpected {value!r}")


def _mentions_old_self(node):
    if isinstance(node, tuple):
        if node == ("var", "oldSelf"):
            return True
        return any(_mentions_old_self(n) for n in node[1:])
    if isinstance(node, list):
        return any(_mentions_old_self(n) for n in node)
    return False


def evaluate(node, env):
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "var":
        if node[1] not in env:
            raise CelError(f"undeclared reference to '{node[1]}'")
        return env[node[1]]
    if op == "list":
        return [evaluate(n, env) for n in node[1]]
    if op == "field":
        base = evaluate(node[1], env)
        if not isinstance(base, dict) or node[2] not in base:
            raise CelError(f"no such key: {node[2]}")
        return base[node[2]]
    if op == "index":
        base, idx = evaluate(node[1], env), evaluate(node[2], env)
        try:
            return base[idx]
        except (KeyError, IndexError, TypeError):
            raise CelError(f"no such key: {idx}") from None
    if op == "&&":
        return bool(evaluate(node[1], env)) and bool(evaluate(node[2], env))
    if op == "||":
        return bool(evaluate(node[1], env)) or bool(evaluate(node[2], env))
    if op == "!":
        return not evaluate(node[1], env)
    if op == "neg":
        return -evaluate(node[1], env)
    if op == "?":
        return evaluate(node[2], env) if evaluate(node[1], env) else evaluate(node[3], env)
    if op == "call":
        return _call(node[1], node[2], env)
    if op == "method":
        return _method(node[1], node[2], node[3], env)
    a, b = evaluate(node[1], env), evaluate(node[2], env)
    try:
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
        if op == "in":
            return a in b
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a // b if isinstance(a, int) and isinstance(b, int) else a / b
        if op == "%":
            return a % b
    except (TypeError, ZeroDivisionError) as e:
        raise CelError(f"no matching overload for '{op}': {e}") from None
    raise CelError(f"unsupported operator {op}")


def _call(name, args, env):
    if name == "has":
        if len(args) != 1 or args[0][0] != "field":
            raise CelError("has() needs a field selection")
        base = evaluate(args[0][1], env)
        return isinstance(base, dict) and args[0][2] in base
    values = [evaluate(a, env) for a in args]
    if name == "size" and len(values) == 1:
        return len(values[0])
    if name == "int" and len(values) == 1:
        return int(values[0])
    if name == "double" and len(values) == 1:
        return float(values[0])
    if name == "string" and len(values) == 1:
        return str(values[0]).lower() if isinstance(values[0], bool) else str(values[0])
    raise CelError(f"undeclared reference to '{name}'")


def _method(target_node, name, args, env):
    if name in ("all", "exists", "exists_one"):
        if len(args) != 2 or args[0][0] != "var":
            raise CelError(f"{name}() needs a variable and a predicate")
        target = evaluate(target_node, env)
        items = list(target.keys()) if isinstance(target, dict) else list(target)
        var = args[0][1]
        results = [bool(evaluate(args[1], dict(env, **{var: item}))) for item in items]
        if name == "all":
            return all(results)
        if name == "exists":
            return any(results)
        return sum(results) == 1
    target = evaluate(target_node, env)
    values = [evaluate(a, env) for a in args]
    if name == "size" and not values:
        return len(target)
    if name == "startsWith":
        return target.startswith(values[0])
    if name == "endsWith":
        return target.endswith(values[0])
    if name == "contains":
        return values[0] in target
    if name == "matches":
        return re.search(values[0], target) is not None
    raise CelError(f"found no matching overload for '{name}'")


def _type_name(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def validate(schema, value, old, path=""):
    """Evaluates every x-kubernetes-validations rule in `schema` against `value` (old: previous version
    or _Missing). Returns causes as (field, reason, message)."""
    causes = []
    if not isinstance(schema, dict) or value is None:
        return causes
    for rule in schema.get("x-kubernetes-validations") or []:
        text = rule.get("rule", "")
        try:
            ast = Parser(text).parse()
        except CelError as e:
            causes.append((path.lstrip(".") or "<root>", "FieldValueInvalid", f"compilation failed: {e}"))
            continue
        transition = _mentions_old_self(ast)
        if transition and (old is _Missing or old is None):
            continue
        env = {"self": value}
        if transition:
            env["oldSelf"] = old
        try:
            ok = evaluate(ast, env) is True
        except CelError as e:
            ok, why = False, str(e)
        else:
            why = None
        if not ok:
            message = rule.get("message") or (f"failed rule: {text}" if why is None else f"{why} evaluating rule: {text}")
            field = path + (rule.get("fieldPath") or "")
            causes.append((field.lstrip(".") or "<root>", rule.get("reason", "FieldValueInvalid"),
                           f'Invalid value: "{_type_name(value)}": {message}'))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k) if k in props else (addl if isinstance(addl, dict) else None)
            if sub is not None:
                sub_old = old.get(k, _Missing) if isinstance(old, dict) else _Missing
                causes += validate(sub, v, sub_old, f"{path}.{k}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        # Items are correlated with their old versions by position only for atomic lists here.
        for n, v in enumerate(value):
            sub_old = old[n] if isinstance(old, list) and n < len(old) else _Missing
            causes += validate(schema["items"], v, sub_old, f"{path}[{n}]")
    return causes


MISSING = _Missing
