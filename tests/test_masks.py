"""Field masks select from every field of a model, inherited ones included."""


def test_a_mask_selects_inherited_fields(auth_client):
    created = auth_client.post("/api/v1/todos/", json={"title": "Buy milk"}).get_json()
    url = f"/api/v1/todos/{created['id']}"
    response = auth_client.get(url, headers={"X-Fields": "{id,title,done}"})
    assert response.get_json() == {"id": created["id"], "title": "Buy milk", "done": False}
    listed = auth_client.get("/api/v1/todos/?fields=title").get_json()
    assert listed == [{"title": "Buy milk"}]


def test_the_columns_a_response_needs_load_in_one_query(auth_client):
    from sqlalchemy import event

    from models import db

    statements = []

    def count(*args):
        statements.append(args)

    def queries_for_list() -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert auth_client.get("/api/v1/todos/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    auth_client.post("/api/v1/todos/", json={"title": "one"})
    with_one = queries_for_list()
    for title in ("two", "three", "four"):
        auth_client.post("/api/v1/todos/", json={"title": title})
    assert queries_for_list() == with_one


def test_the_fields_parameter_counts_when_its_name_is_percent_encoded(auth_client):
    auth_client.post("/api/v1/todos/", json={"title": "Buy milk"})
    listed = auth_client.get("/api/v1/todos/?%66ields=title").get_json()
    assert listed == [{"title": "Buy milk"}]
