#!/usr/bin/python3
"""Conformance judge: checks recorded HTTP exchanges against Prolific's OpenAPI file.

    /usr/bin/python3 tools/conformance.py --spec spec/fixtures/prolific-openapi-2025.json \
        --exchanges exchanges.jsonl [--base-url http://127.0.0.1:PORT --token-file FILE]

It is deliberately not cohort's code: it reads the OpenAPI file itself, translates it to JSON
Schema with the rules below and validates with Debian's python3-jsonschema (Draft 4 semantics),
so the client, the sandbox and this check cannot share a blind spot. It never reads cohort's
generated schema (lua/cohort/schema/) nor its override table: the departures cohort takes from the
raw spec are judged by the caller (spec/conformance_spec.lua), which names the override row.

Input: one JSON object a line, one per HTTP exchange, with the fields
    method, url (as sent, query string included), request_body (text or null),
    request_content_type, status, response_body (text or null; null when the client kept only
    the decoded error), response_content_type, error (the client's message for a failed call),
    driver_op (what the driver meant to call; only echoed, never trusted).
Output: one JSON object a line: a "check" of "answer", "request", "mutation", "mutation_base"
(the body an operation's mutations start from), "coverage" or "summary", with "op" (the operationId; `METHOD path` where the spec gives none), "key"
(`METHOD path-template`), "ok", and for a failure "errors": [{"where", "path", "message",
"keyword", "components"}] ("components": the component schemas the failing node lies in).
With --base-url (and --token-file, a file holding the API token, never printed), spec-invalid
mutations of each conforming request body are sent to the server, which must answer 400.

Translation rules (OpenAPI 3.0.1 Schema Object -> JSON Schema Draft 4), faithful and minimal:
 R1  `$ref: "#/components/schemas/Name"` is replaced by the translation of that component
     (inlined; the spec has no recursive component). Siblings of a $ref would be ignored, as
     OpenAPI 3.0 says (the file has none). Each inlined component is marked with
     "x-component": Name, an annotation the validator ignores, so an error can say which
     component it lies in. Any other $ref is an error of the judge, not a pass.
 R2  `nullable: true` allows null in addition to the node, whatever its other keywords:
     {"anyOf": [{"type": "null"}, node]} (3.0.1: "Allows sending a null value for the defined
     schema"). Without it, null is refused like any value of a wrong type.
 R3  type, properties, required, items, additionalProperties (default: anything allowed, as in
     JSON Schema), enum, minimum, maximum, exclusiveMinimum/exclusiveMaximum (booleans, Draft 4),
     minLength, maxLength, pattern, minItems, maxItems, uniqueItems, minProperties,
     maxProperties, multipleOf, allOf, anyOf, oneOf, not: kept as they are (Draft 4 semantics:
     `integer` means a number without a fractional part *in the JSON text*: 1.0 is a number,
     not an integer, as in OpenAPI's draft Wright-00).
 R4  Annotations are dropped: description, title, example, default, deprecated, discriminator
     (it only names the oneOf branch; the oneOf itself is still checked), xml, externalDocs,
     and every `x-*` extension (so `x-nullable` does nothing). An unknown keyword is an error
     of the judge.
 R5  readOnly / writeOnly: a readOnly property is not required in a request, a writeOnly one
     not in an answer (OpenAPI 3.0: "required will take effect on the response only"); their
     presence is not judged. Property names are looked up in the node and its allOf branches.
 R6  format is checked for the formats the file uses: date-time (RFC 3339 section 5.6: date,
     "T", time, seconds, optional fraction, "Z" or an offset), date (RFC 3339 full-date), uuid
     (8-4-4-4-12 hexadecimal), email (one "@" with text on both sides, no spaces), uri (a
     scheme and, for http(s), a host), objectId (the spec's name for Prolific's object ids: 24
     hexadecimal digits, the textual form of a MongoDB ObjectId). binary and unknown formats
     are not checked (JSON Schema: formats are annotations unless known).
Operations and parameters:
 R7  In scope: every operation of the file except paths under /api/v1/data-collection/ and
     operations marked `deprecated: true` (85 in the 2025 file). An exchange is matched to the
     operation whose method and path template match its path exactly (a placeholder matches
     one non-empty segment; a template with fewer placeholders wins). No match: a failure.
 R8  Path parameters are validated against their schemas (after percent-decoding).
 R9  Query parameters (style form, explode true: OpenAPI's defaults) are read from the URL as
     sent; a value is converted to the parameter's type before validation: integer (optional
     minus and digits), number, boolean ("true"/"false"), array (the repeated key), object (its
     properties are separate keys, across oneOf/anyOf/allOf branches); anything that does not
     convert stays a string and so fails a non-string type. A required parameter must be
     present. A query parameter the operation does not list is a failure: an operation's
     parameters are its complete list. Header parameters (Authorization) are not judged.
 R10 Request body: none may be sent where the operation has no requestBody; one must be sent
     where `requestBody.required` is true; its Content-Type (parameters such as charset
     ignored) must be a documented media type; an application/json body must parse (strict
     JSON: no NaN) and validate against the media type's schema.
 R11 Answers: only 2XX responses are used (4XX ones are not). The status must be one the
     operation documents (an exact code or a "2XX" range). A response documented without
     content must have an empty body; otherwise the answer's Content-Type must be a documented
     media type and an application/json body must validate against its schema (a text/* body
     is a string, nothing more to check).
Mutations (with --base-url):
 R12 From the first JSON body an operation was sent and answered with a documented success
     status, the judge derives variants: at every property and array item of the body (to
     depth 4) a value of each other JSON type (1.5 for an integer too), the removal of each
     property, a string outside the node's enum (or its format), an object ({}) where an array is, an array ([]) where an object is, and
     the whole body as an array. A variant is kept only when this judge's own validator finds in
     it an error the recorded body does not have (so a body the client got wrong, or one an
     override of cohort's excuses, still yields mutations, reported with base_conforms false);
     its kind is the keyword of the failure (type, required, enum, format, oneOf, ...).
     At most one per (kind, path) and MAX_MUTATIONS per operation are kept: every change of
     shape ({} for an array, [] for an object) first, then in turn a value outside an enum, a
     removal, a value of another type; shallow paths first, properties in sorted order (so the
     client's key order does not change the choice). Each is sent
     with the recorded method, path and query, and must be answered 400; the answer should
     name a property on the mutated path, or for a oneOf/anyOf one of its alternatives'
     properties (reported as `names_field`).
"""
import argparse
import copy
import datetime
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import jsonschema

MAX_MUTATIONS = 16
MAX_DEPTH = 4
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
KEPT = {"type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
        "minProperties", "maxProperties", "multipleOf", "format", "required"}
ANNOTATIONS = {"description", "title", "example", "default", "deprecated", "discriminator",
               "xml", "externalDocs", "readOnly", "writeOnly", "nullable"}
COMPONENT = "#/components/schemas/"


class JudgeError(Exception):
    """The judge cannot translate the file faithfully: never a pass."""


# ------------------------------------------------------------------ R1-R5: translation

class Translator:
    def __init__(self, spec):
        self.components = spec.get("components", {}).get("schemas", {})

    def translate(self, node, mode):
        """mode: "request" or "response" (R5)."""
        return self._t(node, mode, (), frozenset())

    def _resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.components[node["$ref"][len(COMPONENT):]]
        return node

    def _flagged(self, node, flag):
        """Property names marked `flag` in a node and its allOf branches (R5)."""
        node = self._resolve(node)
        names = set()
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict) and prop.get(flag) is True:
                names.add(name)
        for branch in node.get("allOf") or []:
            names |= self._flagged(branch, flag)
        return names

    def _t(self, node, mode, stack, hidden):
        if not isinstance(node, dict):
            raise JudgeError("a schema must be an object, got %r" % (node,))
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith(COMPONENT) or ref[len(COMPONENT):] not in self.components:
                raise JudgeError("unsupported $ref %s" % ref)
            name = ref[len(COMPONENT):]
            if name in stack:
                raise JudgeError("recursive component %s" % name)
            out = self._t(self.components[name], mode, stack + (name,), hidden)
            out = dict(out)
            out["x-component"] = name
            return out
        flag = "readOnly" if mode == "request" else "writeOnly"
        hidden = hidden | self._flagged(node, flag)
        out = {}
        for key, value in node.items():
            if key in KEPT:
                out[key] = copy.deepcopy(value)
            elif key == "properties":
                out[key] = {n: self._t(v, mode, stack, frozenset()) for n, v in value.items()}
            elif key in ("items", "not"):
                out[key] = self._t(value, mode, stack, frozenset())
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else self._t(value, mode, stack, frozenset())
            elif key in ("allOf", "anyOf", "oneOf"):
                # allOf branches see the names hidden by their siblings (R5)
                inner = hidden if key == "allOf" else frozenset()
                out[key] = [self._t(v, mode, stack, inner) for v in value]
            elif key in ANNOTATIONS or key.startswith("x-"):
                continue
            else:
                raise JudgeError("unknown schema keyword %r" % key)
        if "required" in out:
            req = [n for n in out["required"] if n not in hidden]
            if req:
                out["required"] = req
            else:
                del out["required"]  # Draft 4: required must not be empty
        if node.get("nullable") is True:
            out = {"anyOf": [{"type": "null"}, out]}
        return out


# ------------------------------------------------------------------ R6: formats

DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                       r"([Zz]|[+-](\d{2}):(\d{2}))$")
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def format_checker():
    fc = jsonschema.FormatChecker(formats=())

    @fc.checks("date-time")
    def _date_time(v):
        if not isinstance(v, str):
            return True
        m = DATE_TIME.match(v)
        if not m:
            return False
        y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
        try:
            datetime.date(y, mo, d)
        except ValueError:
            return False
        if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
            return False
        return h <= 23 and mi <= 59 and s <= 60

    @fc.checks("date")
    def _date(v):
        if not isinstance(v, str):
            return True
        m = DATE.match(v)
        if not m:
            return False
        try:
            datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return False
        return True

    @fc.checks("uuid")
    def _uuid(v):
        return not isinstance(v, str) or bool(UUID.match(v))

    @fc.checks("objectId")
    def _object_id(v):
        return not isinstance(v, str) or bool(OBJECT_ID.match(v))

    @fc.checks("email")
    def _email(v):
        return not isinstance(v, str) or bool(EMAIL.match(v))

    @fc.checks("uri")
    def _uri(v):
        if not isinstance(v, str):
            return True
        u = urllib.parse.urlsplit(v)
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", u.scheme or ""):
            return False
        return u.scheme.lower() not in ("http", "https") or bool(u.netloc)

    return fc


FORMATS = format_checker()


def validator(schema):
    return jsonschema.Draft4Validator(schema, format_checker=FORMATS)


def components_along(root, path):
    """Component names (x-component) on the schema path from root (R1)."""
    names = []
    node = root
    if isinstance(node, dict) and "x-component" in node:
        names.append(node["x-component"])
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "x-component" in node and node["x-component"] not in names:
            names.append(node["x-component"])
    return names


def json_path(parts):
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + str(p)
    return out


def leaf(err):
    """The most telling error under a failure: anyOf/oneOf keep their branches' errors; the
    deepest of them (the branch that got furthest into the document) is followed."""
    best = err
    while best.context:
        deepest = max(len(e.absolute_path) for e in best.context)
        best = jsonschema.exceptions.best_match(
            [e for e in best.context if len(e.absolute_path) == deepest])
    return best


def extra_properties(err):
    """The properties an additionalProperties: false refused, one by one."""
    allowed = set((err.schema.get("properties") or {}).keys())
    patterns = list((err.schema.get("patternProperties") or {}).keys())
    inst = err.instance if isinstance(err.instance, dict) else {}
    return sorted(k for k in inst if k not in allowed and not any(re.search(p, k) for p in patterns))


def schema_errors(schema, instance, where, prefix=()):
    out = []
    for err in sorted(validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path)):
        lf = leaf(err)
        comps = components_along(schema, list(lf.absolute_schema_path))
        for c in components_along(schema, list(err.absolute_schema_path)):
            if c not in comps:
                comps.insert(0, c)
        path = list(prefix) + list(lf.absolute_path)
        if lf.validator == "additionalProperties" and lf.validator_value is False:
            # one error a refused property, at its own path, so each can be named and excused
            for name in extra_properties(lf):
                out.append({"where": where, "path": json_path(path + [name]),
                            "message": "property %r is not allowed here (additionalProperties: "
                                       "false)" % name,
                            "keyword": "additionalProperties", "components": comps})
            continue
        out.append({"where": where, "path": json_path(path),
                    "message": short(lf.message), "keyword": err.validator,
                    "components": comps})
    return out


def short(text, n=300):
    text = str(text)
    return text if len(text) <= n else text[:n] + "…"


# ------------------------------------------------------------------ R7: operations

class Operation:
    def __init__(self, method, template, op, spec_path_item, translator):
        self.method = method.upper()
        self.template = template
        self.raw = op
        self.name = op.get("operationId") or "%s %s" % (self.method, template)
        self.key = "%s %s" % (self.method, template)
        params = list(spec_path_item.get("parameters") or []) + list(op.get("parameters") or [])
        self.params = {}
        for prm in params:
            if "$ref" in prm:
                raise JudgeError("%s: parameter $ref not supported" % self.key)
            self.params[(prm["in"], prm["name"])] = prm
        names = re.findall(r"{([^}]+)}", template)
        self.placeholders = names
        rx = "^" + re.sub(r"\\{[^}]+\\}", "([^/]+)", re.escape(template)) + "$"
        self.regex = re.compile(rx)
        self.translator = translator
        self.body = op.get("requestBody")
        self.responses = op.get("responses") or {}

    def success(self, status):
        """The documented 2XX response for a status, or None (R11)."""
        code = str(status)
        if not code.startswith("2"):
            return None
        if code in self.responses:
            return self.responses[code]
        return self.responses.get("2XX")

    def success_codes(self):
        return sorted(c for c in self.responses if str(c).startswith("2"))


def load_operations(spec):
    tr = Translator(spec)
    ops = []
    for template, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            if template.startswith("/api/v1/data-collection/") or op.get("deprecated") is True:
                continue
            ops.append(Operation(method, template, op, item, tr))
    return ops, tr


def match(ops, method, path):
    best = None
    for op in ops:
        if op.method != method:
            continue
        m = op.regex.match(path)
        if m and (best is None or len(op.placeholders) < len(best[0].placeholders)):
            best = (op, m)
    return best


# ------------------------------------------------------------------ R8-R10: requests

def scalar_type(schema):
    t = schema.get("type")
    if isinstance(t, str):
        return t
    return None


def convert(value, schema):
    """A query or path value (text) as the parameter's type (R9)."""
    t = scalar_type(schema)
    if t == "integer" and re.match(r"^-?\d+$", value):
        return int(value)
    if t == "number":
        try:
            f = float(value)
            if f == f and f not in (float("inf"), float("-inf")):
                return int(value) if re.match(r"^-?\d+$", value) else f
        except ValueError:
            pass
        return value
    if t == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def object_keys(schema):
    keys = set((schema.get("properties") or {}).keys())
    for k in ("oneOf", "anyOf", "allOf"):
        for b in schema.get(k) or []:
            keys |= object_keys(b)
    return keys


def is_object_param(schema):
    return schema.get("type") == "object" or (scalar_type(schema) is None and bool(object_keys(schema)))


def prop_schema(schema, name):
    if name in (schema.get("properties") or {}):
        return schema["properties"][name]
    for k in ("oneOf", "anyOf", "allOf"):
        for b in schema.get(k) or []:
            s = prop_schema(b, name)
            if s is not None:
                return s
    return None


def check_query(op, pairs):
    errors = []
    tr = op.translator
    qparams = {name: prm for (where, name), prm in op.params.items() if where == "query"}
    claimed = {}
    for name, prm in qparams.items():
        raw = prm.get("schema") or {}
        if is_object_param(raw) and prm.get("explode", True) and prm.get("style", "form") == "form":
            for k in object_keys(tr._resolve(raw)):
                claimed[k] = name
    given = {}
    for k, v in pairs:
        given.setdefault(k, []).append(v)
    for k in given:
        if k not in qparams and k not in claimed:
            errors.append({"where": "query", "path": k, "keyword": "parameter",
                           "message": "query parameter %r is not a parameter of %s" % (k, op.name),
                           "components": []})
    for name, prm in qparams.items():
        raw = prm.get("schema") or {}
        schema = tr.translate(raw, "request")
        if is_object_param(raw) and name not in given:
            keys = [k for k in given if claimed.get(k) == name]
            if not keys and not prm.get("required"):
                continue
            inst = {}
            for k in keys:
                ps = prop_schema(tr._resolve(raw), k) or {}
                inst[k] = convert(given[k][-1], tr._resolve(ps))
            errors += schema_errors(schema, inst, "query", (name,))
            continue
        if name not in given:
            if prm.get("required"):
                errors.append({"where": "query", "path": name, "keyword": "required",
                               "message": "required query parameter %r is missing" % name,
                               "components": []})
            continue
        values = given[name]
        if raw.get("type") == "array":
            inst = [convert(v, tr._resolve(raw.get("items") or {})) for v in values]
        else:
            if len(values) > 1:
                errors.append({"where": "query", "path": name, "keyword": "parameter",
                               "message": "query parameter %r given %d times" % (name, len(values)),
                               "components": []})
            inst = convert(values[-1], tr._resolve(raw))
        errors += schema_errors(schema, inst, "query", (name,))
    return errors


def media(ct):
    return (ct or "").split(";")[0].strip().lower()


def check_request(op, ex, pairs, path_values):
    """Errors of the request side (R8-R10) and the decoded JSON body (or None)."""
    errors = []
    tr = op.translator
    for name, value in zip(op.placeholders, path_values):
        prm = op.params.get(("path", name))
        if prm is None:
            errors.append({"where": "path", "path": name, "keyword": "parameter",
                           "message": "path placeholder %r is not declared" % name,
                           "components": []})
            continue
        raw = prm.get("schema") or {}
        v = convert(urllib.parse.unquote(value), tr._resolve(raw))
        errors += schema_errors(tr.translate(raw, "request"), v, "path", (name,))
    errors += check_query(op, pairs)
    body = ex.get("request_body")
    has_body = body is not None and body != ""
    doc = None
    if op.body is None:
        if has_body:
            errors.append({"where": "body", "path": "", "keyword": "requestBody",
                           "message": "a body was sent (%s) but %s has no request body"
                           % (short(body, 60), op.name), "components": []})
        return errors, None
    if not has_body:
        if op.body.get("required") is True:
            errors.append({"where": "body", "path": "", "keyword": "requestBody",
                           "message": "the request body is required", "components": []})
        return errors, None
    content = op.body.get("content") or {}
    ct = media(ex.get("request_content_type"))
    if ct not in content:
        errors.append({"where": "body", "path": "", "keyword": "content-type",
                       "message": "Content-Type %r is not one of %s" % (ct, sorted(content)),
                       "components": []})
        return errors, None
    if ct == "application/json":
        try:
            doc = json.loads(body, parse_constant=reject_constant)
        except ValueError as e:
            errors.append({"where": "body", "path": "", "keyword": "json",
                           "message": "the body is not JSON: %s" % e, "components": []})
            return errors, None
        schema = tr.translate(content[ct].get("schema") or {}, "request")
        errors += schema_errors(schema, doc, "body")
    return errors, doc


def reject_constant(name):
    raise ValueError("%s is not JSON" % name)


# ------------------------------------------------------------------ R11: answers

def check_answer(op, ex):
    status = ex.get("status")
    resp = op.success(status) if isinstance(status, int) else None
    if resp is None:
        msg = "status %s is not a documented success status of %s (%s)" % (
            status, op.name, ", ".join(op.success_codes()) or "none")
        if ex.get("error"):
            msg += ": " + short(ex["error"], 200)
        return [{"where": "answer", "path": "", "keyword": "status", "message": msg,
                 "components": []}]
    body = ex.get("response_body")
    content = resp.get("content") or {}
    if not content:
        if body:
            return [{"where": "answer", "path": "", "keyword": "content",
                     "message": "status %s is documented without a body, got %s"
                     % (status, short(body, 60)), "components": []}]
        return []
    ct = media(ex.get("response_content_type"))
    if ct not in content:
        return [{"where": "answer", "path": "", "keyword": "content-type",
                 "message": "Content-Type %r is not one of %s" % (ct, sorted(content)),
                 "components": []}]
    if ct != "application/json":
        return []
    try:
        doc = json.loads(body if body is not None else "", parse_constant=reject_constant)
    except ValueError as e:
        return [{"where": "answer", "path": "", "keyword": "json",
                 "message": "the answer is not JSON: %s" % e, "components": []}]
    schema = op.translator.translate(content[ct].get("schema") or {}, "response")
    return schema_errors(schema, doc, "answer")


# ------------------------------------------------------------------ R12: mutations

OTHER_VALUES = [("string", "not-a-valid-value"), ("integer", 12345), ("number", 1.5),
                ("boolean", True), ("null", None), ("object", {"unexpected": 1}),
                ("array", ["unexpected"])]


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "integer" if isinstance(v, int) else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def walk(doc, depth=0, path=()):
    """Every (path, value) of a document, shallow ones first."""
    out = [(path, doc)]
    if depth >= MAX_DEPTH:
        return out
    if isinstance(doc, dict):
        for k in sorted(doc):  # the client's key order must not change the choice
            out += walk(doc[k], depth + 1, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            out += walk(v, depth + 1, path + (i,))
    return out


def replaced(doc, path, value, delete=False):
    new = copy.deepcopy(doc)
    if not path:
        return value
    node = new
    for p in path[:-1]:
        node = node[p]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return new


def candidates(doc):
    items = sorted(walk(doc), key=lambda pv: len(pv[0]))
    for path, value in items:
        t = json_type(value)
        if path and isinstance(path[-1], str):
            yield path, "remove", replaced(doc, path, None, delete=True)
        if t == "array":
            yield path, "object for array", replaced(doc, path, {})
        if t == "object":
            yield path, "array for object", replaced(doc, path, [])
        if t == "string":
            yield path, "outside enum", replaced(doc, path, "NOT_IN_ENUM_" + value[:8].upper())
        for ot, ov in OTHER_VALUES:
            if ot != t and not (t == "number" and ot in ("integer", "number")):
                yield path, "%s for %s" % (ot, t), replaced(doc, path, copy.deepcopy(ov))


def error_key(err):
    return (tuple(err.absolute_path), err.validator, str(err.validator_value)[:200])


GROUPS = (("array for object", "object for array"), ("outside enum",), ("remove",))


def group_of(how):
    for i, hows in enumerate(GROUPS):
        if how in hows:
            return i
    return len(GROUPS)  # a value of another type


def mutations(schema, doc):
    """Spec-invalid variants of a recorded body (R12): every change of shape first ({} for an
    array, [] for an object), then values outside an enum, removals and other types in turn;
    one each kind and path, shallow paths first, up to MAX_MUTATIONS."""
    v = validator(schema)
    seen = set()
    groups = [[] for _ in range(len(GROUPS) + 1)]
    base = {error_key(e) for e in v.iter_errors(doc)}
    for path, how, mutant in candidates(doc):
        errs = [e for e in v.iter_errors(mutant) if error_key(e) not in base]
        if not errs:
            continue
        err = errs[0]
        kind = err.validator
        if (kind, path) in seen:
            continue
        seen.add((kind, path))
        keys = [p for p in path if isinstance(p, str)]
        if kind in ("oneOf", "anyOf") and isinstance(err.schema, dict):
            # a refusal may name any property of the alternatives
            keys += sorted(object_keys(err.schema) - set(keys))
        groups[group_of(how)].append({
            "path": json_path(list(path)), "keys": keys, "how": how, "kind": kind,
            "body": mutant, "why": short(leaf(err).message, 200)})
    out = groups[0][:MAX_MUTATIONS]
    rest = groups[1:]
    while len(out) < MAX_MUTATIONS and any(rest):
        for g in rest:
            if g and len(out) < MAX_MUTATIONS:
                out.append(g.pop(0))
    return out


def send(base, token, method, path_qs, body):
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(base + path_qs, data=data, method=method, headers={
        "Authorization": "Token " + token, "Content-Type": "application/json",
        "Accept": "application/json", "User-Agent": "cohort-conformance-judge"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


SECRET_KEY = re.compile(r"secret|token|password|api[_-]?key|^value$", re.I)


def redacted(text):
    """An answer as printed: the string values of secret-looking properties hidden (a webhook
    secret created by an accepted mutation must not reach the test output)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text

    def walk_doc(v):
        if isinstance(v, dict):
            return {k: ("[REDACTED]" if SECRET_KEY.search(k) and isinstance(x, str) else walk_doc(x))
                    for k, x in v.items()}
        if isinstance(v, list):
            return [walk_doc(x) for x in v]
        return v
    return json.dumps(walk_doc(doc), ensure_ascii=False)


def names_field(answer, keys):
    if not keys:
        return True
    return any(k in answer for k in keys)


# ------------------------------------------------------------------ main

def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")


def main(argv):
    ap = argparse.ArgumentParser(description="Judge HTTP exchanges against an OpenAPI 3.0 file.")
    ap.add_argument("--spec", required=True)
    ap.add_argument("--exchanges", required=True)
    ap.add_argument("--base-url", help="send mutations to this server")
    ap.add_argument("--token-file", help="a file holding the server's API token")
    args = ap.parse_args(argv)
    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    if not str(spec.get("openapi", "")).startswith("3.0"):
        raise JudgeError("not an OpenAPI 3.0 file")
    ops, tr = load_operations(spec)
    seen = {op.key: 0 for op in ops}
    first_body = {}
    stats = {"exchanges": 0, "answers_ok": 0, "requests_ok": 0}
    with open(args.exchanges, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    for ex in lines:
        stats["exchanges"] += 1
        url = urllib.parse.urlsplit(ex["url"])
        m = match(ops, ex["method"].upper(), url.path)
        base_info = {"seq": ex.get("seq"), "driver_op": ex.get("driver_op"),
                     "method": ex["method"], "url_path": url.path}
        if m is None:
            for check in ("request", "answer"):
                emit(dict(base_info, check=check, op=None, key=None, ok=False, errors=[{
                    "where": "path", "path": url.path, "keyword": "operation", "components": [],
                    "message": "no in-scope operation of the spec is %s %s" % (ex["method"], url.path)}]))
            continue
        op, mt = m
        seen[op.key] += 1
        pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        rerrs, doc = check_request(op, ex, pairs, mt.groups())
        aerrs = check_answer(op, ex)
        info = dict(base_info, op=op.name, key=op.key, status=ex.get("status"))
        emit(dict(info, check="request", ok=not rerrs, errors=rerrs))
        emit(dict(info, check="answer", ok=not aerrs, errors=aerrs))
        stats["requests_ok"] += not rerrs
        stats["answers_ok"] += not aerrs
        if (doc is not None and op.key not in first_body
                and op.success(ex.get("status")) is not None):
            first_body[op.key] = (op, url, doc, not any(e["where"] == "body" for e in rerrs))
    for op in ops:
        emit({"check": "coverage", "op": op.name, "key": op.key, "ok": seen[op.key] > 0,
              "exchanges": seen[op.key]})
    sent = refused = named = 0
    if args.base_url:
        token = ""
        if args.token_file:
            with open(args.token_file, encoding="utf-8") as tf:
                token = tf.read().strip()
        base = args.base_url.rstrip("/")
        for key, (op, url, doc, conforms) in first_body.items():
            media_type = op.body["content"]["application/json"]
            schema = tr.translate(media_type.get("schema") or {}, "request")
            path_qs = url.path + ("?" + url.query if url.query else "")
            derived = mutations(schema, doc)
            emit({"check": "mutation_base", "op": op.name, "key": op.key,
                  "mutations": len(derived), "base_conforms": conforms})
            for mu in derived:
                status, answer = send(base, token, op.method, path_qs, mu["body"])
                ok = status == 400
                nf = ok and names_field(answer, mu["keys"])
                sent += 1
                refused += ok
                named += nf
                emit({"check": "mutation", "op": op.name, "key": op.key, "ok": ok,
                      "names_field": nf, "path": mu["path"], "how": mu["how"],
                      "kind": mu["kind"], "why_invalid": mu["why"], "status": status,
                      "base_conforms": conforms,
                      "answer": short(redacted(answer), 300)})
    emit({"check": "summary", "operations": len(ops),
          "exercised": sum(1 for k in seen if seen[k] > 0), "exchanges": stats["exchanges"],
          "requests_ok": stats["requests_ok"], "answers_ok": stats["answers_ok"],
          "mutations": sent, "mutations_refused": refused, "mutations_named": named})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except JudgeError as e:
        sys.stderr.write("conformance: %s\n" % e)
        sys.exit(2)
