"""The development server, as a newcomer starts it, answers over real HTTP."""

import json
import urllib.request


def test_run_serves_the_api(live_server):
    with urllib.request.urlopen(live_server + "/api/v1/swagger.json") as response:
        spec = json.load(response)
    assert "/todos/" in spec["paths"]
    request = urllib.request.Request(
        live_server + "/api/v1/auth/register",
        data=json.dumps({"email": "live@example.com", "password": "password-123"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
