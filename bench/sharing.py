"""A member of a thousand shared bucket lists against an owner of a thousand, in process.

    python bench/sharing.py [--lists 1000] [--others 100000] [--repeat 200]
                            [--database-url URL]

Seeds, into a temporary SQLite file (or the PostgreSQL database `--database-url` names,
whose tables it drops): an owner with `--lists` bucket lists; a second owner with as many,
all shared with a member (half as editor, half as viewer); and `--others` lists of other
accounts around them. Then it times `GET /bucketlists/` pages as the owner and as the
member, interleaved request by request in the same run, through the Flask test client:
page 1 in the default order and by name, a page half-way along `next` (a keyset
cursor), and the `role=` filter. Each figure is a median in milliseconds.
"""

import argparse
import statistics
import time

from deep_page import account, fresh_app
from sqlalchemy import insert, select

from models import Bucket, Member, db, refresh_statistics, utcnow

BUCKETS = "/api/v1/bucketlists/"


def lists_of(user_id: int, count: int, prefix: str) -> list[dict]:
    now = utcnow()
    return [
        {"user_id": user_id, "name": f"{prefix} {n:05}", "description": "",
         "created_at": now, "updated_at": now}
        for n in range(count)
    ]  # fmt: skip


def seed(lists: int, others: int) -> tuple[str, str]:
    """The API keys of the owner and of the member."""
    owner, owner_key = account("owner@example.com")
    sharer, _ = account("sharer@example.com")
    member, member_key = account("member@example.com")
    crowd = [account(f"other{n}@example.com")[0] for n in range(10)]
    db.session.flush()
    db.session.execute(insert(Bucket), lists_of(owner.id, lists, "Owned"))
    db.session.execute(insert(Bucket), lists_of(sharer.id, lists, "Shared"))
    for index, other in enumerate(crowd):
        db.session.execute(insert(Bucket), lists_of(other.id, others // len(crowd), f"o{index}"))
    shared = db.session.execute(
        select(Bucket.id, Bucket.name, Bucket.created_at).where(Bucket.user_id == sharer.id)
    ).all()
    db.session.execute(
        insert(Member),
        [
            {"bucket_id": id, "user_id": member.id, "role": ("editor", "viewer")[n % 2],
             "added_at": created_at, "name": name, "created_at": created_at}
            for n, (id, name, created_at) in enumerate(shared)
        ],
    )  # fmt: skip
    db.session.commit()
    refresh_statistics()
    return owner_key, member_key


def half_way(client, url: str, headers: dict, pages: int) -> str:
    """The URL of the page `pages` pages along `next` from `url`."""
    for _ in range(pages):
        link = client.get(url, headers=headers).headers["Link"]
        nexts = [part for part in link.split(", ") if part.endswith('rel="next"')]
        url = nexts[0][1 : nexts[0].index(">")].removeprefix("http://localhost")
    return url


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=1_000)
    parser.add_argument("--others", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with fresh_app(args.database_url, "sharing") as app:
        started = time.perf_counter()
        keys = dict(zip(("owner", "member"), seed(args.lists, args.others), strict=True))
        print(
            f"seeded {2 * args.lists + args.others:,} lists in "
            f"{time.perf_counter() - started:.1f} s ({db.engine.dialect.name})"
        )
        db.session.remove()
        client = app.test_client()
        headers = {who: {"X-API-KEY": key} for who, key in keys.items()}
        pages = args.lists // 20 // 2
        requests = {
            "page 1": dict.fromkeys(keys, f"{BUCKETS}?per_page=20"),
            "page 1, sort=name": dict.fromkeys(keys, f"{BUCKETS}?per_page=20&sort=name"),
            f"page {pages + 1} along next, sort=name": {
                who: half_way(client, f"{BUCKETS}?per_page=20&sort=name", headers[who], pages)
                for who in keys
            },
            "role=owner / role=viewer, page 1": {
                "owner": f"{BUCKETS}?per_page=20&role=owner",
                "member": f"{BUCKETS}?per_page=20&role=viewer",
            },
        }
        print(f"{'GET /bucketlists/':<40} {'owner':>10} {'member':>10} {'ratio':>7}")
        for label, urls in requests.items():
            samples = {who: [] for who in keys}
            for _ in range(args.repeat):
                for who in keys:
                    started = time.perf_counter()
                    response = client.get(urls[who], headers=headers[who])
                    samples[who].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.get_data(as_text=True)
                    assert len(response.get_json()) == 20
            owner, member = (statistics.median(samples[who]) for who in keys)
            print(f"{label:<40} {owner:7.2f} ms {member:7.2f} ms {member / owner:6.2f}x")


if __name__ == "__main__":
    main()
