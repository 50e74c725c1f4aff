"""Every error is RFC 9457 problem details, inside the API and outside it."""

import pytest

TODOS = "/api/v1/todos/"
JSON = "application/json"


def check_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["message"] == body["detail"]
    return body


@pytest.fixture
def todo(auth_client) -> dict:
    return auth_client.post(TODOS, json={"title": "Exists"}).get_json()


def test_validation_errors_keep_their_per_field_reasons(auth_client):
    body = check_problem(auth_client.post(TODOS, json={"title": ""}), 400)
    assert body["title"] == "Bad Request"
    assert set(body["errors"]) == {"title"}


@pytest.mark.parametrize(
    ("request_args", "status"),
    [
        ({"method": "GET", "path": TODOS + "999999"}, 404),
        ({"method": "GET", "path": "/no/such/page"}, 404),
        ({"method": "DELETE", "path": "/healthz"}, 405),
        ({"method": "POST", "path": TODOS, "data": "x", "content_type": "text/plain"}, 415),
        (
            {
                "method": "POST",
                "path": TODOS,
                "data": "x" * (2 << 20),
                "content_type": "application/json",
            },
            413,
        ),
        ({"method": "GET", "path": TODOS + "?per_page=0"}, 400),
        ({"method": "GET", "path": TODOS, "headers": {"X-Fields": "{nothing}"}}, 400),
    ],
    ids=["404", "404 outside the API", "405", "415", "413", "400 query", "400 mask"],
)
def test_errors_of_every_kind_are_problem_details(auth_client, request_args, status):
    args = dict(request_args)
    response = auth_client.open(args.pop("path"), **args)
    check_problem(response, status)


def test_a_401_is_problem_details_with_its_challenge(client):
    response = client.get(TODOS)
    check_problem(response, 401)
    assert "WWW-Authenticate" in response.headers


def test_a_412_is_problem_details(auth_client, todo):
    response = auth_client.patch(
        f"{TODOS}{todo['id']}", json={"done": True}, headers={"If-Match": '"stale"'}
    )
    assert check_problem(response, 412)["title"] == "Precondition Failed"


def test_success_is_plain_json(auth_client, todo):
    assert auth_client.get(f"{TODOS}{todo['id']}").mimetype == "application/json"


def test_the_spec_says_errors_come_as_problem_details(client):
    spec = client.get("/api/v1/swagger.json").get_json()
    assert "application/problem+json" in spec["produces"]
    assert {"type", "title", "status", "detail", "message"} <= set(
        spec["definitions"]["Error"]["properties"]
    )
