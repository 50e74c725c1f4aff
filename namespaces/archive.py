"""Taking your data with you: the account's export, and importing one.

`GET /auth/me/export` streams the document `models.archive` writes; `POST /auth/me/import`
checks one (`check_archive`) and creates its content in the caller's account, all or
nothing. `manage.py export` and `import` do the same from the command line. The routes
join the auth namespace (`ns`, which the blueprint takes from here), beside `/auth/me`.
"""

import itertools

from flask import Response, request
from flask_restx import abort, fields
from jsonschema import Draft4Validator, FormatChecker
from werkzeug.wsgi import ClosingIterator

from api.plumbing.errors import error_model
from api.policies.authentication import ProtectedResource, current_user
from api.rest.resource_models import INVALID_BODY, date_time
from models import EDITOR, VIEWER, db, tag_key, utcnow
from models.archive import FORMAT, VERSION, archive_size, export_chunks, import_archive
from namespaces.auth import ns
from namespaces.bucketlist import bucket_input, item_input
from namespaces.members import MAX_MEMBERS
from namespaces.todos import todo_input

# An import is one document: it may be far larger than any other body.
BODY_LIMIT_SETTING = "MAX_IMPORT_LENGTH"
# How many of a document's faults a 400 names.
ERRORS_SHOWN = 20
# An import through the API writes at most this many rows: on SQLite, which has one
# writer at a time, others wait while it writes (some 12 s at this size, within the 15 s
# they wait before a 503). `manage.py import` takes any size.
MAX_IMPORT_ROWS = 125_000
# And at most this many tags on its todos (a todo with 3 tags: 3), and distinct tags: a
# new tag costs some ten times a todo's tag, which costs a tenth of a row (7,000 todos of
# 20 new tags each wrote for 25 s).
MAX_IMPORT_TAGGINGS = 125_000
MAX_IMPORT_TAGS = 1_000
# Members it may add in all: each is an account looked up by email.
MAX_IMPORT_MEMBERS = 1_000


def _kept(description: str) -> fields.DateTime:
    return fields.DateTime(nullable=True, description=description)


def _written() -> dict:
    return {
        "created_at": _kept("Kept by an import; left out, the import's time"),
        "updated_at": _kept("Informative: an import updates every row it writes"),
    }


archived_todo = ns.clone(
    "ArchivedTodo",
    todo_input,
    {"completed_at": _kept("Kept by an import of a done todo; left out, the import's time")},
    _written(),
)
archived_item = ns.clone(
    "ArchivedItem",
    item_input,
    {"completed_at": _kept("Kept by an import of a done item; left out, the import's time")},
    _written(),
)
archived_member = ns.model(
    "ArchivedMember",
    {
        "email": fields.String(required=True, min_length=1, max_length=254),
        "role": fields.String(required=True, enum=[EDITOR, VIEWER]),
        "added_at": fields.DateTime(description="Informative: an import adds them now"),
    },
)
archived_bucket = ns.clone(
    "ArchivedBucket",
    bucket_input,
    _written(),
    {
        "members": fields.List(
            fields.Nested(archived_member),
            max_items=MAX_MEMBERS - 1,
            default=list,
            description="Its members besides the owner; an import adds those who have an "
            "account, in their role",
        ),
        "items": fields.List(fields.Nested(archived_item), default=list),
    },
)
archived_account = ns.model("ArchivedAccount", {"email": fields.String(example="ada@example.com")})
archive = ns.model(
    "AccountArchive",
    {
        "format": fields.String(required=True, enum=[FORMAT]),
        "version": fields.Integer(
            required=True,
            min=VERSION,
            max=VERSION,
            example=VERSION,
            description=f"The format's version: this server reads version {VERSION}",
        ),
        "exported_at": fields.DateTime(description="Informative"),
        "account": fields.Nested(
            archived_account, description="Informative: an import goes into the caller's account"
        ),
        "todos": fields.List(
            fields.Nested(archived_todo),
            default=list,
            example=[{"title": "Buy milk", "priority": 2, "tags": ["home"]}],
        ),
        "bucketlists": fields.List(
            fields.Nested(archived_bucket),
            default=list,
            example=[{"name": "Travel", "members": [], "items": [{"name": "See the aurora"}]}],
        ),
    },
)
imported = ns.model(
    "Imported",
    {
        "todos": fields.Integer(description="Todos created"),
        "tags": fields.Integer(description="Tags the todos carry, new or the account's"),
        "bucketlists": fields.Integer(description="Bucket lists created"),
        "items": fields.Integer(description="Items created"),
        "members": fields.Integer(description="Members added to the new lists"),
        "members_skipped": fields.List(
            fields.String,
            description="Members' emails no account has (or the caller's own): not added",
        ),
    },
)
# Date-times as every body reads them (`date_time`): RFC 3339, and a UTC year 1 to 9999.
FORMATS = FormatChecker()
FORMATS.checks("date-time", raises=ValueError)(date_time)
VALIDATOR = Draft4Validator(
    {
        **archive.__schema__,
        "definitions": {
            model.name: model.__schema__
            for model in (
                archived_todo,
                archived_item,
                archived_member,
                archived_bucket,
                archived_account,
            )
        },
    },
    format_checker=FORMATS,
)


def without_nulls(value):
    """`value` without the members of its objects that are null: to an import, a null
    field is one left out (which takes its default)."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def check_archive(document, *, limited: bool = True) -> dict[str, str]:
    """The faults of `document` (`without_nulls`) as an import sees them, by the path of
    each (`todos.3.title`); none for an export of this format and version that an import
    can create, with at most `MAX_IMPORT_MEMBERS` members and (when `limited`, as through
    the API) no more than `import_size_faults` allows."""
    if not isinstance(document, dict):
        return {"body": "Must be a JSON object: an export of this API."}
    if document.get("format") != FORMAT:
        return {"format": f"Must be {FORMAT!r}: the document is not an export of this API."}
    if document.get("version") != VERSION:
        return {
            "version": f"This server imports version {VERSION} of the export format; the "
            f"document is version {document.get('version')!r}."
        }
    faults = itertools.islice(VALIDATOR.iter_errors(document), ERRORS_SHOWN)
    found = {".".join(map(str, fault.path)) or "body": fault.message for fault in faults}
    if found:
        return found
    if limited:
        found = import_size_faults(document)
        if found:
            return found
    members = sum(len(bucket.get("members", [])) for bucket in document.get("bucketlists", []))
    if members > MAX_IMPORT_MEMBERS:
        return {
            "bucketlists": f"An import adds at most {MAX_IMPORT_MEMBERS:,} members in all; "
            f"this document names {members:,}."
        }
    return {}


def import_size_faults(document) -> dict[str, str]:
    """What makes a valid `document` too large to import through the API: more than
    `MAX_IMPORT_ROWS` rows, `MAX_IMPORT_TAGGINGS` tags on todos or `MAX_IMPORT_TAGS`
    distinct tags."""
    todos = document.get("todos", [])
    taggings = sum(len(todo.get("tags", [])) for todo in todos)
    tags = len({tag_key(name) for todo in todos for name in todo.get("tags", [])})
    counted = (
        (archive_size(document), MAX_IMPORT_ROWS, "rows (todos, bucket lists and items)"),
        (taggings, MAX_IMPORT_TAGGINGS, "tags on todos"),
        (tags, MAX_IMPORT_TAGS, "distinct tags"),
    )
    for count, limit, what in counted:
        if count > limit:
            return {
                "body": f"An import through the API writes at most {limit:,} {what}; this "
                f"document holds {count:,}: split it, or use `manage.py import`."
            }
    return {}


@ns.route("/me/export")
class Export(ProtectedResource):
    # A file to keep, not a representation: no ETag, so no If-None-Match or 304.
    __apidoc__ = {key: doc for key, doc in ProtectedResource.__apidoc__.items() if key != "get"}

    @ns.response(
        200,
        "The account's todos and the bucket lists it owns, as one JSON document, streamed",
        archive,
        headers={"Content-Disposition": {"type": "string", "description": "A file name"}},
    )
    def get(self):
        """Download the account's data as one JSON document

        Its todos, with their tags, and the bucket lists it owns, with their members and
        items; streamed from one snapshot of the database.
        """
        user = current_user()
        chunks = export_chunks(db.engine, user.id, user.email)
        # The first chunk is read now: a database that cannot answer is an error status
        # here, not a document cut short.
        first = next(chunks)
        return Response(
            ClosingIterator(itertools.chain([first], chunks), chunks.close),
            mimetype="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="todos-{utcnow():%Y-%m-%d}.json"'
            },
        )


@ns.route("/me/import")
class Import(ProtectedResource):
    # api.plumbing.hooks.check_body: this route's body may be as large as this setting.
    body_limit = BODY_LIMIT_SETTING

    @ns.expect(archive)
    @ns.marshal_with(imported, code=201, description="Everything in the document created")
    @ns.response(400, "Not an export of this API, of another version, or invalid", error_model)
    @ns.response(
        413, f"The body is larger than {BODY_LIMIT_SETTING} (64 MiB by default)", error_model
    )
    def post(self):
        """Import an export into the caller's account

        Creates everything in the document with new ids: all of it or, on any fault,
        nothing.
        """
        # 415 for a body that is not JSON, 400 for one that is not valid JSON
        document = without_nulls(request.get_json())
        faults = check_archive(document)
        if faults:
            abort(400, INVALID_BODY, errors=faults)
        return import_archive(db.session, current_user().id, document, date_time), 201
