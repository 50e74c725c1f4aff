"""A Postman collection (format v2.1) of the API, built from the live `Api` and its spec.

Flask-RESTX's own `as_postman()` writes format v1, which Postman and Newman no longer
run. This export is made for running as much as for reading:

* one folder per namespace, in the order the `Api` adds them;
* inside a folder, each resource's life in order: create (POST), read (GET), update
  (PUT, PATCH), then the resources nested under it, then delete (DELETE). A bucket is
  created before its items and deleted after them;
* a create that answers 201 saves the new id in a collection variable named after the
  path, e.g. `{{todos_id}}` or `{{bucketlists_items_item_id}}`, which later requests
  put in their path;
* every request checks its status (the operation's documented 2xx);
* a list that hands an `X-Sync-Token` saves it (e.g. `{{todos_sync_token}}`); once the
  resources under it have been created, changed and deleted, a "Sync" request lists what
  changed since that token, which is at least the tombstone of the row just deleted;
* credentials: the collection sends `{{apiKey}}` as the API key (a key that may write:
  each request's description says which scope it needs); an operation that is public,
  or takes Basic or bearer credentials first, says so in its `security` and gets its
  first one instead.
  A sign-up request invents a fresh `{{email}}`, a login saves `{{accessToken}}`;
* a request that shares a bucket list with another account by email registers that
  second account first (`{{memberEmail}}`); one that checks the caller's password
  (changing it, deleting the account) registers and logs in an account of its own first,
  and runs as it (`{{ownToken}}`).

Nothing in the output depends on the clock or chance, so the same API exports the same
file; Postman's `{{$guid}}` is evaluated when the collection runs.
"""

import json
import re
import uuid

from flask_restx import Api
from flask_restx.swagger import extract_path

from api.rest.masks import FIELDS_PARAM
from api.rest.spec import SCOPE_KEY
from api.tools.openapi import swagger_spec

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
METHODS = ("post", "get", "put", "patch", "delete")
CREDENTIAL_FIELDS = ("email", "password")
BEARER_FIELD = "access_token"
MASK_HEADER = "X-Fields"
EXAMPLE_ID = "1"
JSON_HEADER = {"key": "Content-Type", "value": "application/json"}
SYNC_HEADER = "X-Sync-Token"
SYNC = "sync"  # not an HTTP method: the GET of a list with `since`
MEMBER_EMAIL = "memberEmail"
OWN_TOKEN = "ownToken"  # noqa: S105 (the name of a variable a run fills)
# The body fields by which an operation checks the caller's own password.
OWN_PASSWORD_FIELDS = ("password", "current_password")
# In a script: the run's password, a variable.
PASSWORD = 'pm.variables.replaceIn("{{password}}")'  # noqa: S105


def collection(api: Api, base_url: str = DEFAULT_BASE_URL) -> dict:
    """The Postman collection of `api`; needs an application context."""
    return Exporter(api, swagger_spec(api), base_url.rstrip("/")).collection()


def environment(exported: dict) -> dict:
    """A Postman environment with the variables a user sets: the server and the key.

    The variables a run saves (ids, the token) stay in the collection: an environment
    value would take precedence over them.
    """
    variables = {variable["key"]: variable["value"] for variable in exported["variable"]}
    name = exported["info"]["name"]
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"postman-environment:{name}")),
        "name": name,
        "values": [
            {"key": "baseUrl", "value": variables["baseUrl"], "type": "default", "enabled": True},
            {"key": "apiKey", "value": "", "type": "secret", "enabled": True},
        ],
        "_postman_variable_scope": "environment",
    }


def id_variable(path: str, param: str) -> str:
    """The variable holding `param` of `path`: `/bucketlists/{id}/items/{item_id}`,
    `item_id` gives `bucketlists_items_item_id`; `id` gives `bucketlists_id`."""
    head = path.split("{" + param + "}")[0]
    words = [part for part in head.split("/") if part and not part.startswith("{")]
    return re.sub(r"\W+", "_", "_".join([*words, param]))


def sync_variable(path: str) -> str:
    """The variable holding the sync token of the list at `path`: `todos_sync_token`,
    `bucketlists_items_sync_token`."""
    words = [part for part in path.split("/") if part and not part.startswith("{")]
    return re.sub(r"\W+", "_", "_".join([*words, "sync_token"]))


def parent_path(path: str, paths: list[str]) -> str | None:
    """The longest other path of which `path` is a sub-path."""
    prefixes = [other for other in paths if path.startswith(other.rstrip("/") + "/")]
    return max((other for other in prefixes if other != path), key=len, default=None)


def item_param(collection_path: str, item_path: str) -> str | None:
    """`id` when `item_path` is `collection_path` plus one `{id}` segment."""
    match = re.fullmatch(re.escape(collection_path.rstrip("/")) + r"/\{(\w+)\}", item_path)
    return match.group(1) if match else None


def script(kind: str, lines: list[str]) -> dict:
    return {"listen": kind, "script": {"type": "text/javascript", "exec": lines}}


class Exporter:
    """Turns the spec of `api` into a collection; collects the variables it needs."""

    def __init__(self, api: Api, spec: dict, base_url: str):
        self.api = api
        self.spec = spec
        self.base_url = base_url
        self.base_path = spec.get("basePath", "").rstrip("/")
        self.definitions = spec.get("definitions", {})
        self.schemes = spec.get("securityDefinitions", {})
        self.variables: dict[str, str] = {}

    def collection(self) -> dict:
        folders = [folder for folder in map(self.folder, self.api.namespaces) if folder["item"]]
        info = self.spec["info"]
        variables = {"baseUrl": self.base_url, "apiKey": "", **self.variables}
        return {
            "info": {
                "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"postman:{info['title']}")),
                "name": info["title"],
                "description": self.description(),
                "version": info.get("version", ""),
                "schema": SCHEMA,
            },
            "auth": self.collection_auth(),
            "variable": [
                {"key": key, "value": value, "type": "string"} for key, value in variables.items()
            ],
            "item": folders,
        }

    def description(self) -> str:
        return (
            f"{self.spec['info'].get('description', '')}\n\n"
            "Run it against a server with an API key (`manage.py seed` prints one):\n\n"
            f"    newman run FILE --env-var baseUrl={self.base_url} --env-var apiKey=KEY\n\n"
            "The requests run in order: each resource is created, read, updated and deleted, "
            "and the ids it gets are kept in collection variables."
        ).strip()

    def key_scheme(self) -> dict:
        """The API key scheme the collection authenticates with."""
        for scheme in self.schemes.values():
            if scheme.get("type") == "apiKey" and scheme.get("name") != "Authorization":
                return scheme
        raise ValueError("The API declares no API key authorization to export.")

    def collection_auth(self) -> dict:
        scheme = self.key_scheme()
        return {
            "type": "apikey",
            "apikey": [
                {"key": "key", "value": scheme["name"], "type": "string"},
                {"key": "value", "value": "{{apiKey}}", "type": "string"},
                {"key": "in", "value": scheme.get("in", "header"), "type": "string"},
            ],
        }

    def folder(self, ns) -> dict:
        paths = []
        for _resource, urls, _doc, _kwargs in ns.resources:
            for url in self.api.ns_urls(ns, urls):
                path = extract_path(url)
                if path in self.spec["paths"] and path not in paths:
                    paths.append(path)
        return {
            "name": ns.name,
            "description": ns.description or "",
            "item": [self.request(path, method) for path, method in self.in_order(paths)],
        }

    def in_order(self, paths: list[str]):
        """`(path, method)` so that each resource is created before it is used."""
        children = {path: [] for path in paths}
        roots = []
        for path in paths:
            parent = parent_path(path, paths)
            (children[parent] if parent else roots).append(path)

        def visit(path):
            # A parent is always a shorter path, so this recursion ends.
            methods = [method for method in METHODS if method in self.spec["paths"][path]]
            yield from ((path, method) for method in methods if method != "delete")
            for child in children[path]:
                yield from visit(child)
            if "get" in methods and self.hands_sync_token(self.spec["paths"][path]["get"]):
                yield path, SYNC
            if "delete" in methods:
                yield path, "delete"

        for root in roots:
            yield from visit(root)

    def hands_sync_token(self, operation: dict) -> bool:
        response = operation["responses"].get(str(self.success_status(operation)), {})
        return SYNC_HEADER in response.get("headers", {})

    def request(self, path: str, method: str) -> dict:
        if method == SYNC:
            return self.sync_request(path)
        item = self.spec["paths"][path]
        operation = item[method]
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        status = self.success_status(operation)
        request = {
            "method": method.upper(),
            "header": self.headers(operation, parameters),
            "url": self.url(path, operation, parameters),
            "description": self.describe(operation),
        }
        auth = self.auth(operation)
        body = next((p for p in parameters if p["in"] == "body"), None)
        fields = self.example(body["schema"]) if body is not None else {}
        fields = fields if isinstance(fields, dict) else {}
        # An authenticated request that names an account by email shares with it: a
        # second account, which the request registers first. One that checks the
        # caller's password changes or deletes the account itself: it runs as an account
        # of its own, registered and logged in first, never as the collection's key.
        invites = auth is None and "email" in fields
        own_account = auth is None and any(name in fields for name in OWN_PASSWORD_FIELDS)
        if own_account:
            auth = {
                "type": "bearer",
                "bearer": [{"key": "token", "value": "{{" + OWN_TOKEN + "}}", "type": "string"}],
            }
        if auth is not None:
            request["auth"] = auth
        if body is not None:
            example = self.body(body["schema"], invites, own_account)
            request["body"] = {
                "mode": "raw",
                "raw": json.dumps(example, indent=2, ensure_ascii=False),
                "options": {"raw": {"language": "json"}},
            }
        events = []
        if invites:
            events.append(script("prerequest", self.registers_member()))
        if own_account:
            events.append(script("prerequest", self.registers_own_account()))
        if self.signs_up(operation, request):
            events.append(
                script(
                    "prerequest",
                    [
                        "// A new address on every run, so the account created is always new.",
                        'pm.collectionVariables.set("email", '
                        '"postman-" + pm.variables.replaceIn("{{$guid}}") + "@example.com");',
                    ],
                )
            )
        events.append(script("test", self.tests(path, method, operation, status)))
        return {
            "name": operation.get("summary") or operation.get("operationId") or path,
            "event": events,
            "request": request,
            "response": [],
        }

    def sync_request(self, path: str) -> dict:
        """The list at `path` with `since` set to the token its GET saved."""
        listed = self.request(path, "get")
        variable = sync_variable(path)
        for param in listed["request"]["url"]["query"]:
            if param["key"] == "since":
                param["value"] = "{{" + variable + "}}"
                param["disabled"] = False
        listed["request"]["url"]["raw"] += "?since={{" + variable + "}}"
        listed["request"]["description"] = (
            f"What changed in this list since the token `{{{{{variable}}}}}` that its GET "
            "handed: rows as they are now, deleted ones as tombstones."
        )
        listed["name"] = f"Sync {self.base_path}{path}: what changed since its list was read"
        listed["event"] = [
            script(
                "test",
                [
                    f'pm.test("the sync of {self.base_path}{path} answers 200", function () {{',
                    "    pm.response.to.have.status(200);",
                    "});",
                    'pm.test("it lists the changes made since, deletions included", function () {',
                    "    var changes = pm.response.json();",
                    '    pm.expect(changes).to.be.an("array").that.is.not.empty;',
                    "    var deleted = changes.filter(function (row) { return row.deleted; });",
                    "    pm.expect(deleted).to.not.be.empty;",
                    "});",
                    f'pm.test("it hands the next {SYNC_HEADER}", function () {{',
                    f'    pm.response.to.have.header("{SYNC_HEADER}");',
                    "});",
                ],
            )
        ]
        return listed

    @staticmethod
    def describe(operation: dict) -> str:
        """The request's description: the operation's, and the API key scope it needs."""
        text = operation.get("description") or operation.get("summary", "")
        scope = operation.get(SCOPE_KEY)
        if scope == "write":
            text += "\n\nNeeds an API key with the scope `write`: a read-only key gets 403."
        elif scope:
            text += f"\n\nAny API key may do this (scope `{scope}`)."
        return text.strip()

    @staticmethod
    def success_status(operation: dict) -> int:
        codes = sorted(int(code) for code in operation["responses"] if code.isdigit())
        return next((code for code in codes if 200 <= code < 300), 200)

    def auth(self, operation: dict) -> dict | None:
        """The request's own auth; None to inherit the collection's API key."""
        names = [name for requirement in operation.get("security") or [] for name in requirement]
        if not names:
            return {"type": "noauth"}
        name = names[0]
        scheme = self.schemes.get(name, {})
        if scheme.get("type") == "basic":
            self.credential_variables()
            return {
                "type": "basic",
                "basic": [
                    {"key": "username", "value": "{{email}}", "type": "string"},
                    {"key": "password", "value": "{{password}}", "type": "string"},
                ],
            }
        if scheme.get("type") == "apiKey" and scheme.get("name") == "Authorization":
            self.variables.setdefault("accessToken", "")
            return {
                "type": "bearer",
                "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
            }
        return None

    def credential_variables(self, examples: dict | None = None) -> None:
        """`{{email}}` (set by a sign-up) and `{{password}}` (the model's example)."""
        self.variables.setdefault("email", "")
        self.variables.setdefault("password", (examples or {}).get("password", ""))

    @staticmethod
    def signs_up(operation: dict, request: dict) -> bool:
        """A public operation that creates something from an email: a new account."""
        public = request.get("auth") == {"type": "noauth"}
        creates = Exporter.success_status(operation) == 201
        return public and creates and '"{{email}}"' in request.get("body", {}).get("raw", "")

    def headers(self, operation: dict, parameters: list[dict]) -> list[dict]:
        headers = []
        if any(p["in"] == "body" for p in parameters):
            headers.append(dict(JSON_HEADER))
        for param in parameters:
            if param["in"] != "header":
                continue
            value = self.mask(operation) if param["name"] == MASK_HEADER else ""
            headers.append(
                {
                    "key": param["name"],
                    "value": value,
                    "description": param.get("description", ""),
                    "disabled": True,
                }
            )
        return headers

    def mask(self, operation: dict) -> str:
        """An example field mask for the operation's response: its id and one more field."""
        schema = self.resolve(self.success_schema(operation))
        if schema.get("type") == "array":
            schema = self.resolve(schema.get("items", {}))
        properties = schema.get("properties", {})
        simple = [
            name
            for name, field in properties.items()
            if "$ref" not in field and field.get("type") not in ("array", "object")
        ]
        chosen = (["id"] if "id" in simple else []) + [name for name in simple if name != "id"]
        return "{" + ",".join(chosen[:2]) + "}" if chosen else "*"

    def success_schema(self, operation: dict) -> dict:
        response = operation["responses"].get(str(self.success_status(operation)), {})
        return response.get("schema", {})

    def url(self, path: str, operation: dict, parameters: list[dict]) -> dict:
        segments = (self.base_path + path).strip("/").split("/")
        if path.endswith("/"):
            segments.append("")
        segments = [re.sub(r"^\{(\w+)\}$", r":\1", segment) for segment in segments]
        mask = self.mask(operation)
        url = {
            "raw": "{{baseUrl}}/" + "/".join(segments),
            "host": ["{{baseUrl}}"],
            "path": segments,
        }
        query = [
            {
                "key": param["name"],
                "value": mask if param["name"] == FIELDS_PARAM else self.query_value(param),
                "description": param.get("description", ""),
                "disabled": True,
            }
            for param in parameters
            if param["in"] == "query"
        ]
        if query:
            url["query"] = query
        variables = []
        # In the order the path names them, so the last one is this resource's own id.
        in_path = {name: index for index, name in enumerate(re.findall(r"\{(\w+)\}", path))}
        for param in sorted(parameters, key=lambda p: in_path.get(p["name"], -1)):
            if param["in"] == "path":
                name = id_variable(path, param["name"])
                self.variables.setdefault(name, str(param.get("default", EXAMPLE_ID)))
                variables.append(
                    {
                        "key": param["name"],
                        "value": "{{" + name + "}}",
                        "description": param.get("description", ""),
                    }
                )
        if variables:
            url["variable"] = variables
        return url

    def query_value(self, param: dict) -> str:
        if param.get("type") == "string" and not param.keys() & {"example", "default", "enum"}:
            return ""  # a free-text filter or an opaque cursor: nothing worth suggesting
        value = self.example(param, param["name"])
        return value if isinstance(value, str) else json.dumps(value)

    def tests(self, path: str, method: str, operation: dict, status: int) -> list[str]:
        lines = [
            f'pm.test("{method.upper()} {self.base_path}{path} answers {status}", function () {{',
            f"    pm.response.to.have.status({status});",
            "});",
        ]
        if self.success_schema(operation):
            lines += [
                'pm.test("the body is JSON", function () {',
                "    pm.response.to.be.json;",
                "});",
            ]
        if method == "get" and self.hands_sync_token(operation):
            variable = sync_variable(path)
            self.variables.setdefault(variable, "")
            lines += [
                f"if (pm.response.code === {status}) {{",
                f'    pm.collectionVariables.set("{variable}", '
                f'pm.response.headers.get("{SYNC_HEADER}"));',
                "}",
            ]
        saves = self.saved_values(path, method, operation)
        if saves:
            lines.append(f"if (pm.response.code === {status}) {{")
            lines.append("    var body = pm.response.json();")
            for variable, field in saves:
                lines.append(f'    pm.collectionVariables.set("{variable}", body.{field});')
            lines.append("}")
        return lines

    def saved_values(self, path: str, method: str, operation: dict) -> list[tuple[str, str]]:
        """`(variable, response field)` pairs that this operation's response provides."""
        schema = self.resolve(self.success_schema(operation))
        fields = schema.get("properties", {})
        saves = []
        if BEARER_FIELD in fields:
            self.variables.setdefault("accessToken", "")
            saves.append(("accessToken", BEARER_FIELD))
        if method == "post" and self.success_status(operation) == 201:
            for other in self.spec["paths"]:
                param = item_param(path, other)
                if param:
                    field = param if param in fields else "id"
                    saves.append((id_variable(other, param), field))
        return saves

    def resolve(self, schema: dict, depth: int = 0) -> dict:
        """`schema` with its `$ref` followed and its `allOf` (inherited models) merged."""
        ref = schema.get("$ref", "")
        if ref.startswith("#/definitions/"):
            schema = self.definitions.get(ref.rsplit("/", 1)[1], {})
        if "allOf" not in schema or depth > 10:
            return schema
        merged = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = self.resolve(part, depth + 1)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged

    def url_of(self, path: str) -> str:
        """The URL of the API's `path`, as a script writes it before replacing variables."""
        return "{{baseUrl}}" + self.base_path + path

    def register_path(self) -> str:
        """The path of the public sign-up operation."""
        return next(
            path
            for path, item in self.spec["paths"].items()
            if path.endswith("/register") and self.auth(item["post"]) == {"type": "noauth"}
        )

    def registration(self, email: str, then: list[str]) -> list[str]:
        """Script lines that register the account `email` (a JavaScript expression) with
        `{{password}}`, check the 201, and run `then`."""
        self.credential_variables()
        return [
            "pm.sendRequest({",
            f'    url: pm.variables.replaceIn("{self.url_of(self.register_path())}"),',
            '    method: "POST",',
            '    header: {"Content-Type": "application/json"},',
            "    body: {",
            '        mode: "raw",',
            f"        raw: JSON.stringify({{email: {email}, password: {PASSWORD}}})",
            "    }",
            "}, function (error, response) {",
            "    pm.expect(error).to.equal(null);",
            "    pm.expect(response.code).to.equal(201);",
            *("    " + line for line in then),
            "});",
        ]

    def registers_member(self) -> list[str]:
        """A pre-request script that registers a fresh second account, `{{memberEmail}}`."""
        self.variables.setdefault(MEMBER_EMAIL, "")
        return [
            "// The account to share with: a second one, registered now with a new address.",
            'var member = "postman-member-" + pm.variables.replaceIn("{{$guid}}") '
            '+ "@example.com";',
            f'pm.collectionVariables.set("{MEMBER_EMAIL}", member);',
            *self.registration("member", []),
        ]

    def registers_own_account(self) -> list[str]:
        """A pre-request script that registers a fresh account and logs it in: its bearer
        token is `{{ownToken}}`."""
        self.variables.setdefault(OWN_TOKEN, "")
        login = next(path for path in self.spec["paths"] if path.endswith("/login"))
        logs_in = [
            "pm.sendRequest({",
            f'    url: pm.variables.replaceIn("{self.url_of(login)}"),',
            '    method: "POST",',
            '    header: {"Content-Type": "application/json"},',
            "    body: {",
            '        mode: "raw",',
            f"        raw: JSON.stringify({{email: own, password: {PASSWORD}}})",
            "    }",
            "}, function (error, response) {",
            "    pm.expect(response.code).to.equal(200);",
            f'    pm.collectionVariables.set("{OWN_TOKEN}", response.json().access_token);',
            "});",
        ]
        return [
            "// This request changes or deletes the account that makes it: an account of its",
            "// own, registered and logged in now, not the one the collection's key opens.",
            'var own = "postman-own-" + pm.variables.replaceIn("{{$guid}}") + "@example.com";',
            *self.registration("own", logs_in),
        ]

    def body(self, schema: dict, invites: bool = False, own_account: bool = False) -> object:
        """An example body for `schema`; credential fields refer to the run's variables,
        the email of an account to share with (`invites`) to `{{memberEmail}}`, and the
        password of a request on its own account (`own_account`) to `{{password}}`."""
        example = self.example(schema)
        if isinstance(example, dict) and invites:
            example["email"] = "{{" + MEMBER_EMAIL + "}}"
        elif isinstance(example, dict) and own_account:
            for name in OWN_PASSWORD_FIELDS:
                if name in example:
                    example[name] = "{{password}}"
        elif isinstance(example, dict):
            present = [name for name in CREDENTIAL_FIELDS if name in example]
            if present:
                self.credential_variables(example)
                for name in present:
                    example[name] = "{{" + name + "}}"
        return example

    def example(self, schema: dict, name: str = "", depth: int = 0) -> object:
        """A value `schema` accepts: its example, its default, or one made to fit."""
        schema = self.resolve(schema)
        if schema.get("example") is not None:
            return schema["example"]
        if schema.get("default") is not None:
            return schema["default"]
        if schema.get("enum"):
            return schema["enum"][0]
        if schema.get("x-nullable"):
            return None  # null is always a value that fits, and never names another's row
        kind = schema.get("type", "object")
        if kind == "object":
            if depth > 5:
                return {}
            return {
                key: self.example(field, key, depth + 1)
                for key, field in schema.get("properties", {}).items()
                if not field.get("readOnly")
            }
        if kind == "array":
            return [self.example(schema.get("items", {}), name, depth + 1)]
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return max(schema.get("minimum", 1), 1)
        return self.text(schema, name)

    @staticmethod
    def text(schema: dict, name: str) -> str:
        formats = {
            "date-time": "2026-01-01T12:00:00+00:00",
            "date": "2026-01-01",
            "email": "ada@example.com",
            "uri": "https://example.com/",
        }
        if schema.get("format") in formats:
            return formats[schema["format"]]
        text = f"Example {name.replace('_', ' ')}".strip()
        text = text.ljust(schema.get("minLength", 0), "x")
        return text[: schema.get("maxLength", len(text))]
