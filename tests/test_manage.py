"""The command line, through click's test runner."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from sqlalchemy import func, select, text

import manage
from models import ApiKey, Bucket, Item, Todo, User, db


def test_routes(runner):
    result = runner.invoke(manage.cli, args=["routes"])
    assert result.exit_code == 0
    assert "/api/v1/todos/" in result.output
    assert "/healthz" in result.output


def test_run_applies_migrations_then_serves(runner, app, monkeypatch):
    served = {}

    def fake_run_simple(host, port, application, **options):
        served.update(host=host, port=port, app=application)

    monkeypatch.setattr("werkzeug.serving.run_simple", fake_run_simple)
    db.drop_all()
    result = runner.invoke(manage.cli, args=["run", "--port", "5999"])
    assert result.exit_code == 0, result.output
    assert served == {"host": "127.0.0.1", "port": 5999, "app": app}
    from sqlalchemy import inspect

    assert {"users", "todos", "alembic_version"} <= set(inspect(db.engine).get_table_names())


def test_cli_uses_development_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/dev.db")
    app = manage.make_app()
    assert app.config["SECRET_KEY"]
    assert not app.testing


@pytest.fixture
def fresh_database(app):
    """The test database emptied, as `db upgrade` finds a new one."""

    def empty():
        db.session.remove()  # its open transaction would block the DROPs on PostgreSQL
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))

    empty()
    yield
    empty()
    db.create_all()


def seed(runner, *args):
    result = runner.invoke(manage.cli, args=["seed", *args])
    assert result.exit_code == 0, result.output
    return result


def login_of(output: str) -> tuple[str, str, str]:
    email, password = re.search(r"Demo login: (\S+) / (\S+)", output).groups()
    key = re.search(r"API key \(shown once\): (\S+)", output)[1]
    return email, password, key


def count(model, *criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


def test_seed_defaults_to_the_classic_demo(runner, fresh_database, client):
    result = seed(runner)
    assert "Seeding" in result.output
    email, password, key = login_of(result.output)
    assert email == "demo@example.com"
    (user,) = db.session.scalars(select(User)).all()
    assert user.check_password(password)
    assert (count(Todo), count(Bucket), count(Item)) == (100, 100, 1000)
    assert count(Item, Item.user_id == user.id) == 1000
    me = client.get("/api/v1/auth/me", headers={"X-API-KEY": key})
    assert me.status_code == 200 and me.get_json()["email"] == email
    login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200


def test_seed_spreads_items_over_each_users_buckets(runner, fresh_database):
    seed(runner, "--users", "3", "--todos", "4", "--buckets", "5", "--items", "40")
    assert (count(User), count(Todo), count(Bucket), count(Item)) == (3, 12, 15, 120)
    for user in db.session.scalars(select(User)):
        assert count(Todo, Todo.user_id == user.id) == 4
        owned = select(Bucket.id).where(Bucket.user_id == user.id)
        assert count(Item, Item.user_id == user.id, Item.bucket_id.in_(owned)) == 40
    used = db.session.scalar(select(func.count(func.distinct(Item.bucket_id))))
    assert used > 5
    # Each list's items in creation order, done ones completed and counted by the database.
    for bucket in db.session.scalars(select(Bucket)):
        by_position = select(Item.id).where(Item.bucket_id == bucket.id).order_by(Item.position)
        ids = db.session.scalars(by_position).all()
        assert ids == sorted(ids) and len(ids) == bucket.item_count
        done = count(Item, Item.bucket_id == bucket.id, Item.done)
        assert bucket.done_count == done
        assert count(Item, Item.bucket_id == bucket.id, Item.done, Item.completed_at.is_(None)) == 0


def test_seed_leaves_the_planner_statistics_of_what_it_wrote(runner, fresh_database):
    seed(runner, "--todos", "50", "--buckets", "2", "--items", "5")
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("SELECT idx FROM sqlite_stat1")
            analysed = {row[0] for row in rows}
            assert {index.name for index in Todo.__table__.indexes} <= analysed
        else:
            columns = connection.exec_driver_sql(
                "SELECT attname FROM pg_stats WHERE schemaname = current_schema() "
                "AND tablename = 'todos'"
            )
            assert {"user_id", "done", "due_first"} <= {row[0] for row in columns}


def test_seed_content_is_realistic(runner, fresh_database):
    seed(runner, "--todos", "50", "--buckets", "10", "--items", "50")
    titles = db.session.scalars(select(Todo.title)).all()
    names = db.session.scalars(select(Item.name)).all()
    assert len(set(titles)) > 20 and len(set(names)) > 20
    assert all(re.fullmatch(r"[A-Z][\w ,.:'()-]+", text) for text in titles + names)
    assert 0 < count(Item, Item.done) < 50
    created = db.session.scalars(select(Todo.created_at).order_by(Todo.id)).all()
    assert created == sorted(created) and created[0] < created[-1]


def test_seed_gives_todos_due_dates_priorities_tags_and_an_order(runner, fresh_database, client):
    _, _, key = login_of(seed(runner, "--todos", "200", "--buckets", "1", "--items", "0").output)
    headers = {"X-API-KEY": key}

    def listed(query: str) -> list[dict]:
        response = client.get(f"/api/v1/todos/?per_page=100&{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def total(query: str) -> int:
        response = client.get(f"/api/v1/todos/?per_page=1&{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return int(response.headers["X-Total-Count"])

    # Most todos have no due date; some are overdue, some due this week.
    week = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    now = datetime.now(UTC).isoformat()
    dated = total("due_before=9000-01-01T00:00:00Z")
    assert 20 < dated < 120
    assert 0 < total("overdue=true") < dated
    assert 0 < total(f"due_after={quote(now)}&due_before={quote(week)}") < dated
    # Priorities 0 to 3, mostly none.
    by_priority = [total(f"priority={level}") for level in range(4)]
    assert all(by_priority) and by_priority[0] > 200 / 3 and sum(by_priority) == 200
    # A few tags per todo, from a small vocabulary, counted by the database.
    tags = client.get("/api/v1/todos/tags/?per_page=100", headers=headers).get_json()
    assert 3 <= len(tags) <= 10
    assert all(0 < tag["todo_count"] < 200 for tag in tags)
    assert total(f"tag={quote(tags[0]['name'])}") == tags[0]["todo_count"]
    # Done todos were completed; the manual order is the creation order.
    done = listed("done=true&sort=-id")
    assert done and all(todo["completed_at"] for todo in done)
    ordered = [todo["id"] for todo in listed("sort=position")]
    assert ordered == sorted(ordered)


def test_seed_runs_again_on_a_database_with_data(runner, fresh_database):
    first = seed(runner, "--todos", "3", "--buckets", "2", "--items", "6", "--seed", "5")
    second = seed(runner, "--todos", "3", "--buckets", "2", "--items", "6", "--seed", "5")
    assert login_of(first.output)[0] == "demo@example.com"
    assert login_of(second.output)[0] == "demo2@example.com"
    assert "(seed 5)" in second.output
    # The same seed draws the same content for the new account.
    users = db.session.scalars(select(User.id).order_by(User.id)).all()
    titles = [
        db.session.scalars(select(Todo.title).where(Todo.user_id == user).order_by(Todo.id)).all()
        for user in users
    ]
    names = [
        db.session.scalars(select(Item.name).where(Item.user_id == user).order_by(Item.id)).all()
        for user in users
    ]
    assert titles[0] == titles[1] and names[0] == names[1]


def test_seed_needs_buckets_for_items(runner, fresh_database):
    result = runner.invoke(manage.cli, args=["seed", "--buckets", "0", "--items", "5"])
    assert result.exit_code == 2
    assert "bucket" in result.output


def test_seed_without_items_or_buckets(runner, fresh_database):
    seed(runner, "--todos", "0", "--buckets", "0", "--items", "0")
    assert (count(User), count(Todo), count(Bucket), count(Item)) == (1, 0, 0, 0)


def test_create_user_with_a_password_option(runner, client):
    result = runner.invoke(
        manage.cli, args=["create-user", "Grace@Example.com", "--password", "password-123"]
    )
    assert result.exit_code == 0, result.output
    assert "grace@example.com" in result.output
    login = client.post(
        "/api/v1/auth/login", json={"email": "grace@example.com", "password": "password-123"}
    )
    assert login.status_code == 200


def test_create_user_prompts_for_the_password_twice(runner):
    result = runner.invoke(
        manage.cli, args=["create-user", "ada@example.com"], input="password-123\npassword-123\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert db.session.scalars(select(User)).one().check_password("password-123")


def test_create_user_refuses_mismatched_confirmation(runner):
    result = runner.invoke(
        manage.cli,
        args=["create-user", "ada@example.com"],
        input="password-123\npassword-124\npassword-123\npassword-123\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower()
    assert db.session.scalars(select(User)).one().check_password("password-123")


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "ada@@example.com"])
def test_create_user_validates_the_email_as_registration_does(runner, client, email):
    result = runner.invoke(manage.cli, args=["create-user", email, "--password", "password-123"])
    assert result.exit_code == 2
    assert "EMAIL" in result.output
    registered = client.post("/api/v1/auth/register", json={"email": email, "password": "x" * 9})
    assert registered.status_code == 400
    assert count(User) == 0


def test_create_user_needs_a_long_enough_password(runner):
    result = runner.invoke(
        manage.cli, args=["create-user", "ada@example.com", "--password", "short"]
    )
    assert result.exit_code == 2
    assert "8 characters" in result.output
    assert count(User) == 0


def test_create_user_refuses_a_taken_email(runner, alice):
    result = runner.invoke(
        manage.cli, args=["create-user", "ALICE@example.com", "--password", "password-123"]
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_create_key_prints_a_working_secret_once(runner, client, alice):
    result = runner.invoke(manage.cli, args=["create-key", "Alice@Example.com", "--name", "ci"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("tdk_")
    assert client.get("/api/v1/auth/me", headers={"X-API-KEY": secret}).status_code == 200
    stored = db.session.scalars(select(ApiKey).where(ApiKey.name == "ci")).one()
    assert stored.user_id == alice.user.id and secret not in stored.digest


def test_create_key_for_an_unknown_account(runner):
    result = runner.invoke(manage.cli, args=["create-key", "nobody@example.com", "--name", "ci"])
    assert result.exit_code == 1
    assert "No account" in result.output


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_create_key_checks_the_name(runner, alice, name):
    result = runner.invoke(manage.cli, args=["create-key", alice.email, "--name", name])
    assert result.exit_code == 2
    assert count(ApiKey) == 1


def test_openapi_writes_a_valid_spec(runner, tmp_path):
    output = tmp_path / "swagger.json"
    result = runner.invoke(manage.cli, args=["openapi", "-o", str(output)])
    assert result.exit_code == 0, result.output
    spec = json.loads(output.read_text())
    assert spec["swagger"] == "2.0" and "/todos/{id}" in spec["paths"]
    validate(spec)


def test_openapi_refuses_an_invalid_spec(runner, tmp_path, monkeypatch):
    broken = {
        "swagger": "2.0",
        "info": {"title": "x", "version": "1"},
        "paths": {"/x": {"get": {}}},
    }
    monkeypatch.setattr("api.tools.openapi.swagger_spec", lambda api: broken)
    output = tmp_path / "swagger.json"
    result = runner.invoke(manage.cli, args=["openapi", "-o", str(output)])
    assert result.exit_code == 1
    assert "not valid Swagger 2.0" in result.output
    # The validator quotes names as its backend does: jsonschema, or jsonschema-rs where
    # it is installed (schemathesis brings it).
    assert "paths > /x > get: 'responses' is a required property" in result.output.replace('"', "'")
    assert not output.exists()


def test_openapi_writes_a_valid_openapi_3_1_document(runner, tmp_path, client):
    output = tmp_path / "openapi.json"
    result = runner.invoke(manage.cli, args=["openapi", "--openapi", "3.1", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "OpenAPI 3.1" in result.output
    document = json.loads(output.read_text())
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()
    assert document["servers"] == [{"url": "http://127.0.0.1:5000/api/v1"}]
    swagger = client.get("/api/v1/swagger.json").get_json()
    assert set(document["paths"]) == set(swagger["paths"])
    # Beside the server, it is the document the API serves.
    served = client.get("/api/v1/openapi.json").get_json()
    assert {**document, "servers": served["servers"]} == served


def test_openapi_3_1_names_the_server_it_is_given(runner, tmp_path):
    output = tmp_path / "openapi.json"
    result = runner.invoke(
        manage.cli,
        args=[
            "openapi",
            "--openapi",
            "3.1",
            "--base-url",
            "https://todos.example.com/",
            "-o",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(output.read_text())
    assert document["servers"] == [{"url": "https://todos.example.com/api/v1"}]


def test_openapi_3_1_refuses_an_invalid_document(runner, tmp_path, monkeypatch):
    untitled = {"swagger": "2.0", "info": {"version": "1"}, "paths": {}}
    monkeypatch.setattr("api.tools.openapi.swagger_spec", lambda api: untitled)
    output = tmp_path / "openapi.json"
    result = runner.invoke(manage.cli, args=["openapi", "--openapi", "3.1", "-o", str(output)])
    assert result.exit_code == 1
    assert "not valid OpenAPI 3.1" in result.output
    assert "info: 'title' is a required property" in result.output.replace('"', "'")
    assert not output.exists()


def test_openapi_3_1_refuses_what_it_cannot_convert(runner, tmp_path, monkeypatch):
    form = {"name": "file", "in": "formData", "type": "file"}
    spec = {
        "swagger": "2.0",
        "info": {"title": "x", "version": "1"},
        "paths": {"/x": {"post": {"parameters": [form], "responses": {}}}},
    }
    monkeypatch.setattr("api.tools.openapi.swagger_spec", lambda api: spec)
    output = tmp_path / "openapi.json"
    result = runner.invoke(manage.cli, args=["openapi", "--openapi", "3.1", "-o", str(output)])
    assert result.exit_code == 1
    assert "cannot be written as OpenAPI 3.1: 'formData' parameters" in result.output
    assert not output.exists()


def test_openapi_knows_only_its_two_versions(runner, tmp_path):
    output = tmp_path / "openapi.json"
    result = runner.invoke(manage.cli, args=["openapi", "--openapi", "3.0", "-o", str(output)])
    assert result.exit_code == 2
    assert "'2.0', '3.1'" in result.output
    assert not output.exists()


def test_postman_writes_the_collection_and_the_environment(runner, tmp_path):
    output, environment = tmp_path / "collection.json", tmp_path / "environment.json"
    result = runner.invoke(
        manage.cli,
        args=[
            "postman",
            "-o",
            str(output),
            "--base-url",
            "http://api.test:8000",
            "--env-file",
            str(environment),
        ],
    )
    assert result.exit_code == 0, result.output
    collection = json.loads(output.read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert {"key": "baseUrl", "value": "http://api.test:8000", "type": "string"} in collection[
        "variable"
    ]
    values = json.loads(environment.read_text())["values"]
    assert {v["key"]: v["value"] for v in values} == {
        "baseUrl": "http://api.test:8000",
        "apiKey": "",
    }


class FakeServer:
    started = None

    def __init__(self, factory, config_file=None, options=None):
        FakeServer.started = {"factory": factory, "config_file": config_file, "options": options}

    def run(self):
        pass


@pytest.fixture
def fake_gunicorn(monkeypatch):
    monkeypatch.setattr("api.tools.server.GunicornServer", FakeServer)
    monkeypatch.setenv("SECRET_KEY", "serve-secret")
    monkeypatch.delenv("APP_ENV", raising=False)
    FakeServer.started = None
    return FakeServer


def test_serve_passes_its_flags_to_gunicorn(runner, fake_gunicorn):
    args = ["serve", "--workers", "3", "--threads", "4", "--bind", "127.0.0.1:9000"]
    result = runner.invoke(manage.cli, args=[*args, "--bind", "unix:/tmp/api.sock"])
    assert result.exit_code == 0, result.output
    started = fake_gunicorn.started
    assert started["options"] == {
        "bind": ["127.0.0.1:9000", "unix:/tmp/api.sock"],
        "workers": 3,
        "threads": 4,
    }
    assert started["config_file"].endswith("gunicorn.conf.py")
    app = started["factory"]()
    assert app.config["SECRET_KEY"] == "serve-secret" and not app.debug and not app.testing


def test_serve_takes_host_and_port_too(runner, fake_gunicorn):
    result = runner.invoke(manage.cli, args=["serve", "--port", "9001"])
    assert result.exit_code == 0, result.output
    assert fake_gunicorn.started["options"]["bind"] == ["127.0.0.1:9001"]
    runner.invoke(manage.cli, args=["serve", "--host", "localhost"])
    assert fake_gunicorn.started["options"]["bind"] == ["localhost:8000"]


def test_serve_leaves_unset_flags_to_the_config_file(runner, fake_gunicorn):
    result = runner.invoke(manage.cli, args=["serve"])
    assert result.exit_code == 0, result.output
    assert fake_gunicorn.started["options"] == {"bind": None, "workers": None, "threads": None}


def test_serve_runs_the_production_config_and_needs_a_secret_key(
    runner, fake_gunicorn, monkeypatch
):
    monkeypatch.delenv("SECRET_KEY")
    result = runner.invoke(manage.cli, args=["serve"])
    assert result.exit_code == 1
    assert "SECRET_KEY" in result.output
    assert fake_gunicorn.started is None


def test_seed_prints_what_the_benchmark_reads(runner, fresh_database, client):
    from tests.test_bench import bench

    result = seed(runner, "--todos", "1", "--buckets", "0", "--items", "0")
    account = bench.parse_seed(result.output)
    assert client.get("/api/v1/todos/", headers={"X-API-KEY": account.key}).status_code == 200


def test_the_server_keeps_what_the_master_built_out_of_the_collectors_way():
    import gc
    import runpy

    settings = runpy.run_path(str(Path(__file__).parents[1] / "gunicorn.conf.py"))
    gc.unfreeze()
    try:
        settings["pre_fork"](None, None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_delete_user_asks_first_and_deletes_what_the_account_owns(runner, alice, bob):
    with db.session.begin():
        db.session.add(Todo(user_id=alice.user.id, title="mine"))
        db.session.add(Bucket(user_id=alice.user.id, name="mine"))
        db.session.add(Bucket(user_id=bob.user.id, name="bob's"))
    declined = runner.invoke(manage.cli, ["delete-user", alice.email], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 2

    result = runner.invoke(manage.cli, ["delete-user", "ALICE@example.com"], input="y\n")
    assert result.exit_code == 0, result.output
    assert f"Deleted account {alice.user.id}: ALICE@example.com" in result.output
    db.session.expire_all()
    assert db.session.scalars(select(User.email)).all() == [bob.email]
    assert db.session.scalars(select(Bucket.name)).all() == ["bob's"]
    assert db.session.scalar(select(func.count()).select_from(Todo)) == 0


def test_delete_user_of_an_unknown_email_changes_nothing(runner, alice):
    result = runner.invoke(manage.cli, ["delete-user", "nobody@example.com", "--yes"])
    assert result.exit_code == 1 and "No account has the email" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
