"""When the database goes away the API says 503, and it serves again when it returns."""

import uuid

import pytest
from sqlalchemy import create_engine, text

from api.factory import create_app
from models import ApiKey, User, db
from tests.conftest import make_config
from tests.live import answers
from tests.proxy import Proxy

POSTGRES = ("127.0.0.1", 5432)


pytestmark = pytest.mark.skipif(
    not answers(POSTGRES[1]), reason="needs a PostgreSQL server on 127.0.0.1:5432"
)


@pytest.fixture
def cut_able(tmp_path):
    """An app that reaches PostgreSQL through a proxy the test can cut."""
    schema = f"resilience_{uuid.uuid4().hex[:12]}"
    direct = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with direct.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    proxy = Proxy(POSTGRES).start()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
    database = {"url": url, "schema": schema}
    app = create_app(make_config(database, tmp_path, SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        db.create_all()
        user = User(email="ada@example.com", password_hash="-")
        db.session.add(user)
        db.session.flush()
        key, secret = ApiKey.issue(user, "k")
        db.session.add(key)
        db.session.commit()
    yield app, proxy, {"X-API-KEY": secret}
    proxy.stop()
    with app.app_context():
        db.engine.dispose()
    with direct.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    direct.dispose()


def test_503_while_the_database_is_away_then_serving_again(cut_able):
    app, proxy, headers = cut_able
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert (
        client.post("/api/v1/todos/", json={"title": "before"}, headers=headers).status_code == 201
    )

    proxy.stop()
    health = client.get("/healthz")
    assert health.status_code == 503
    for response in (
        client.get("/api/v1/todos/", headers=headers),
        client.post("/api/v1/todos/", json={"title": "during"}, headers=headers),
    ):
        assert response.status_code == 503
        assert response.is_json and "Traceback" not in response.get_data(as_text=True)
        assert response.get_json()["message"]
        assert response.headers["Retry-After"]

    proxy.start()
    assert client.get("/healthz").status_code == 200
    titles = [t["title"] for t in client.get("/api/v1/todos/", headers=headers).get_json()]
    assert titles == ["before"]
