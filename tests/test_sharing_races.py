"""Shared bucket lists under races: a member removed, given another role, or losing the
list while they write.

Each round releases a member's writes together with the owner's change
(`tests.clients.together`). Every request is answered (no 500), each write either lands
before the change committed or is refused after it, and nothing is left half-done.

Whether a write landed after the change is read from the order in which transactions
flushed while holding the list's lock: a write and the owner's change each lock the
list before they write, so their flushes, timed by one clock in this process, come in
the order of their commits. `flushes` records them with SQLAlchemy's `after_flush`
event.
"""

import threading
import time
from collections import Counter
from functools import partial

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from models import Item, Member, db
from models.sync import delete_account
from tests.clients import AppHttp, together

RACERS = 24  # requests per round: one change by the owner, the rest a member's writes
ROUNDS = 5
# How much later, round by round, the owner's change starts than the writes it races.
STAGGER = 0.005
ROUND_TIMEOUT = 60


@pytest.fixture
def config_overrides():
    return {"PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def flushes():
    """(time, what) of each flush that wrote an item or changed or removed a member."""
    seen, lock = [], threading.Lock()

    def record(session, flush_context):
        now = time.perf_counter_ns()
        written = [
            *(("item", row.id) for row in session.new if isinstance(row, Item)),
            *(("member", row.user_id) for row in session.dirty if isinstance(row, Member)),
            *(("removed", row.user_id) for row in session.deleted if isinstance(row, Member)),
        ]
        with lock:
            seen.extend((now, kind, ident) for kind, ident in written)

    event.listen(Session, "after_flush", record)
    yield seen
    event.remove(Session, "after_flush", record)


@pytest.fixture
def owner(app, alice) -> AppHttp:
    return AppHttp(app, alice.headers)


@pytest.fixture
def member(app, bob) -> AppHttp:
    return AppHttp(app, bob.headers)


def shared_list(owner: AppHttp, email: str, role: str, name: str) -> int:
    created = owner("POST", "/bucketlists/", {"name": name})
    assert created.status == 201, created
    bucket_id = created.body["id"]
    added = owner("POST", f"/bucketlists/{bucket_id}/members/", {"email": email, "role": role})
    assert added.status == 201, added
    return bucket_id


def add_items(member: AppHttp, bucket_id: int, count: int) -> list:
    return [
        member("POST", f"/bucketlists/{bucket_id}/items/", {"name": f"item {n}"})
        for n in range(count)
    ]


def race(change, writes: list, round_number: int) -> tuple:
    """The owner's `change` released with the member's `writes`, starting a little later
    each round (`STAGGER`), so that the rounds meet the writes at several points
    rather than all before or all after them: their results."""

    def later():
        time.sleep(round_number * STAGGER)
        return change()

    results = together([later, *writes], timeout=ROUND_TIMEOUT)
    return results[0], results[1:]


def items_in(bucket_id: int) -> set[int]:
    with db.engine.connect() as connection:
        return set(connection.scalars(select(Item.id).where(Item.bucket_id == bucket_id)))


def assert_landed_before(flushes: list, created: set[int], change: str) -> None:
    """Every item in `created` was written before the change's flush."""
    (changed_at,) = [at for at, kind, _ in flushes if kind == change]
    late = [ident for at, kind, ident in flushes if kind == "item" and at > changed_at]
    assert not set(late) & created, ("written after the change", late)


def test_removing_a_member_while_they_write(owner, member, bob, flushes):
    outcomes = Counter()
    for round_number in range(ROUNDS):
        bucket_id = shared_list(owner, bob.email, "editor", f"round {round_number}")
        flushes.clear()
        removal, writes = race(
            partial(owner, "DELETE", f"/bucketlists/{bucket_id}/members/{bob.user.id}"),
            [partial(add_items, member, bucket_id, 1) for _ in range(RACERS - 1)],
            round_number,
        )
        writes = [result for batch in writes for result in batch]
        assert removal.status == 204, removal
        statuses = Counter(result.status for result in writes)
        assert set(statuses) <= {201, 404}, statuses
        outcomes.update(statuses)
        created = {result.body["id"] for result in writes if result.status == 201}
        assert items_in(bucket_id) == created
        assert_landed_before(flushes, created, "removed")
        assert member("GET", f"/bucketlists/{bucket_id}").status == 404
        assert owner("GET", f"/bucketlists/{bucket_id}").body["item_count"] == len(created)
    # The race was run: writes landed before the removal, and others were refused.
    print(f"outcomes over {ROUNDS} rounds: {dict(outcomes)}")
    assert outcomes[201] and outcomes[404], outcomes


def test_changing_a_role_while_they_write(owner, member, bob, flushes):
    outcomes = Counter()
    for round_number in range(ROUNDS):
        bucket_id = shared_list(owner, bob.email, "editor", f"round {round_number}")
        flushes.clear()
        change, writes = race(
            partial(
                owner,
                "PATCH",
                f"/bucketlists/{bucket_id}/members/{bob.user.id}",
                {"role": "viewer"},
            ),
            [partial(add_items, member, bucket_id, 1) for _ in range(RACERS - 1)],
            round_number,
        )
        writes = [result for batch in writes for result in batch]
        assert change.status == 200 and change.body["role"] == "viewer", change
        statuses = Counter(result.status for result in writes)
        assert set(statuses) <= {201, 403}, statuses
        for result in writes:
            if result.status == 403:
                assert result.body["required_role"] == "editor", result
        outcomes.update(statuses)
        created = {result.body["id"] for result in writes if result.status == 201}
        assert items_in(bucket_id) == created
        assert_landed_before(flushes, created, "member")
        assert member("GET", f"/bucketlists/{bucket_id}").body["role"] == "viewer"
    print(f"outcomes over {ROUNDS} rounds: {dict(outcomes)}")
    assert outcomes[201] and outcomes[403], outcomes


def assert_gone_for(account: AppHttp, bucket_id: int, token: str) -> None:
    """The list is not in `account`'s lists, whose count agrees, and their sync since
    `token` shows it as a tombstone."""
    listed = account("GET", "/bucketlists/?per_page=100")
    assert bucket_id not in [row["id"] for row in listed.body]
    assert int(listed.headers["X-Total-Count"]) == len(listed.body)
    synced = account("GET", f"/bucketlists/?since={token}&per_page=100")
    assert synced.status == 200
    assert [row for row in synced.body if row["id"] == bucket_id] == [
        {"id": bucket_id, "deleted": True}
    ]


def member_writes(member: AppHttp, items: str, item_ids: list[int]) -> dict:
    """The member's n-th write of each method, on the list's `items`."""
    return {
        "POST": lambda n: member("POST", items, {"name": f"new {n}"}),
        "PATCH": lambda n: member("PATCH", f"{items}{item_ids[n]}", {"done": True}),
        "DELETE": lambda n: member("DELETE", f"{items}{item_ids[n]}"),
    }


@pytest.mark.parametrize("write", ["POST", "PATCH", "DELETE"])
def test_deleting_a_list_while_members_write(owner, member, bob, write):
    outcomes = Counter()
    success = {"POST": 201, "PATCH": 200, "DELETE": 204}[write]
    for round_number in range(ROUNDS):
        bucket_id = shared_list(owner, bob.email, "editor", f"round {round_number}")
        tokens = member("GET", "/bucketlists/").headers["X-Sync-Token"]
        items = f"/bucketlists/{bucket_id}/items/"
        item_ids = [
            owner("POST", items, {"name": f"item {n}"}).body["id"] for n in range(RACERS - 1)
        ]
        requests = member_writes(member, items, item_ids)[write]
        deletion, writes = race(
            partial(owner, "DELETE", f"/bucketlists/{bucket_id}"),
            [partial(requests, n) for n in range(RACERS - 1)],
            round_number,
        )
        assert deletion.status == 204, deletion
        statuses = Counter(result.status for result in writes)
        assert set(statuses) <= {success, 404}, statuses
        outcomes.update(statuses)
        # Gone for the member everywhere: the list, their lists and their sync.
        assert member("GET", f"/bucketlists/{bucket_id}").status == 404
        assert member("GET", items).status == 404
        assert_gone_for(member, bucket_id, tokens)
    print(f"outcomes over {ROUNDS} rounds: {dict(outcomes)}")
    assert outcomes[success] and outcomes[404], outcomes


def test_deleting_an_account_while_members_write(app, owner, member, bob, make_account):
    """Each round an account that owns a list shared with bob, and is an editor of one
    of alice's that bob edits too, is deleted while bob writes to both lists and alice
    shares a third with it: every request is answered, bob's writes to alice's list all
    land, and the deleted account's list is gone for bob, with its tombstone."""
    outcomes = Counter()
    for round_number in range(ROUNDS):
        carol = make_account()
        theirs = AppHttp(app, carol.headers)
        alices = shared_list(owner, bob.email, "editor", f"alice's {round_number}")
        added = owner(
            "POST", f"/bucketlists/{alices}/members/", {"email": carol.email, "role": "editor"}
        )
        assert added.status == 201, added
        third = owner("POST", "/bucketlists/", {"name": f"third {round_number}"}).body["id"]
        carols = shared_list(theirs, bob.email, "editor", f"carol's {round_number}")
        token = member("GET", "/bucketlists/").headers["X-Sync-Token"]

        def deletion(account_id=carol.user.id, delay=round_number * STAGGER):
            # Later each round, as `race` does: a deletion that takes the write lock at
            # once (no request to parse first) met every write first in some runs.
            time.sleep(delay)
            with app.app_context():
                delete_account(db.session, account_id)
                db.session.commit()
            return "deleted"

        half = (RACERS - 2) // 2
        tasks = [
            partial(
                owner,
                "POST",
                f"/bucketlists/{third}/members/",
                {"email": carol.email, "role": "viewer"},
            ),
            *(partial(add_items, member, alices, 1) for _ in range(half)),
            *(partial(add_items, member, carols, 1) for _ in range(half)),
        ]
        done, sharing, *writes = together([deletion, *tasks], timeout=ROUND_TIMEOUT)
        assert done == "deleted"
        assert sharing.status in (201, 404), sharing
        on_alices = Counter(batch[0].status for batch in writes[:half])
        on_carols = Counter(batch[0].status for batch in writes[half:])
        assert on_alices == {201: half}, on_alices
        assert set(on_carols) <= {201, 404}, on_carols
        outcomes.update(on_carols)
        assert_gone_for(member, carols, token)
        members = owner("GET", f"/bucketlists/{alices}/members/").body
        assert carol.email not in [row["email"] for row in members]
        assert owner("GET", f"/bucketlists/{third}/members/").body[1:] == []
        # The account is gone; SQLite may give its id to the next one.
        db.session.expunge_all()
    print(f"outcomes over {ROUNDS} rounds: {dict(outcomes)}")
    assert outcomes[201] and outcomes[404], outcomes
