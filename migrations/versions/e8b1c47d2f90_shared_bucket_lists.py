"""Shared bucket lists: members and their roles

Revision ID: e8b1c47d2f90
Revises: c3f5a1d2e9b4
Create Date: 2026-12-04 21:00:00.000000

Every bucket list gets its owner as its first member, and an account's `bucket_count`
counts its memberships (the lists it owns and those shared with it) instead of the lists
it owns: the count triggers move from `buckets` to `bucket_members`. The trigger SQL is a
frozen copy of `models.counts`. Listing goes through the members' index, so the two
indexes that sorted an owner's lists by name and creation go.
"""

from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e8b1c47d2f90"
down_revision = "c3f5a1d2e9b4"
branch_labels = None
depends_on = None

EVENTS = ("insert", "delete", "move")


class Counter(NamedTuple):
    child: str
    key: str
    parent: str
    column: str

    @property
    def name(self):
        return f"{self.child}_count"

    def step(self, delta, row):
        return (
            f"UPDATE {self.parent} SET {self.column} = {self.column} {delta} 1 "
            f"WHERE id = {row}.{self.key};"
        )

    def added(self, rows, sign):
        return (
            f"PERFORM 1 FROM {self.parent} WHERE id IN (SELECT {self.key} FROM {rows}) "
            f"ORDER BY id FOR NO KEY UPDATE; "
            f"UPDATE {self.parent} SET {self.column} = {self.column} {sign} counted.n "
            f"FROM (SELECT {self.key}, count(*) AS n FROM {rows} "
            f"GROUP BY {self.key}) AS counted "
            f"WHERE {self.parent}.id = counted.{self.key};"
        )

    def create(self, dialect):
        name, moved = self.name, f"{self.step('-', 'OLD')} {self.step('+', 'NEW')}"
        if dialect != "postgresql":
            return [
                f"CREATE TRIGGER {name}_insert AFTER INSERT ON {self.child} FOR EACH ROW "
                f"BEGIN {self.step('+', 'NEW')} END",
                f"CREATE TRIGGER {name}_delete AFTER DELETE ON {self.child} FOR EACH ROW "
                f"BEGIN {self.step('-', 'OLD')} END",
                f"CREATE TRIGGER {name}_move AFTER UPDATE OF {self.key} "
                f"ON {self.child} FOR EACH ROW WHEN OLD.{self.key} IS NOT NEW.{self.key} "
                f"BEGIN {moved} END",
            ]
        function = (
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN "
            f"IF TG_OP = 'INSERT' THEN {self.added('new_rows', '+')} "
            f"ELSIF TG_OP = 'DELETE' THEN {self.added('old_rows', '-')} "
            f"ELSE {moved} "
            f"END IF; "
            f"RETURN NULL; "
            f"END $$"
        )
        return [
            function,
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {self.child} "
            f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {self.child} "
            f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {name}_move AFTER UPDATE OF {self.key} "
            f"ON {self.child} FOR EACH ROW WHEN (OLD.{self.key} IS DISTINCT FROM NEW.{self.key}) "
            f"EXECUTE FUNCTION {name}()",
        ]

    def drop(self, dialect):
        if dialect != "postgresql":
            return [f"DROP TRIGGER IF EXISTS {self.name}_{event}" for event in EVENTS]
        triggers = [
            f"DROP TRIGGER IF EXISTS {self.name}_{event} ON {self.child}" for event in EVENTS
        ]
        return [*triggers, f"DROP FUNCTION IF EXISTS {self.name}()"]

    def recount(self):
        return (
            f"UPDATE {self.parent} SET {self.column} = (SELECT count(*) FROM {self.child} "
            f"WHERE {self.child}.{self.key} = {self.parent}.id)"
        )


# A frozen copy of models.bucket's: the owner joins each new list, and its members keep
# copies of its name.
OWNER_JOINS = (
    "INSERT INTO bucket_members (bucket_id, user_id, role, added_at, name, created_at) "
    "SELECT id, user_id, 'owner', created_at, name, created_at FROM {rows}"
)
NAME_COPIED = "UPDATE bucket_members SET name = NEW.name WHERE bucket_id = NEW.id"
MEMBERSHIP_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER buckets_owner_joins AFTER INSERT ON buckets FOR EACH ROW "
        f"BEGIN {OWNER_JOINS.format(rows='buckets WHERE id = NEW.id')}; END",
        "CREATE TRIGGER buckets_name_copied AFTER UPDATE OF name ON buckets FOR EACH ROW "
        f"WHEN OLD.name IS NOT NEW.name BEGIN {NAME_COPIED}; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION buckets_members() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'INSERT' THEN {OWNER_JOINS.format(rows='new_rows')}; "
        f"ELSE {NAME_COPIED}; END IF; RETURN NULL; END $$",
        "CREATE TRIGGER buckets_owner_joins AFTER INSERT ON buckets "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION buckets_members()",
        "CREATE TRIGGER buckets_name_copied AFTER UPDATE OF name ON buckets FOR EACH ROW "
        "WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION buckets_members()",
    ],
}
MEMBERSHIP_DROPS = {
    "sqlite": ["DROP TRIGGER buckets_owner_joins", "DROP TRIGGER buckets_name_copied"],
    "postgresql": [
        "DROP TRIGGER buckets_owner_joins ON buckets",
        "DROP TRIGGER buckets_name_copied ON buckets",
        "DROP FUNCTION buckets_members()",
    ],
}

OWNED = Counter("buckets", "user_id", "users", "bucket_count")
VISIBLE = Counter("bucket_members", "user_id", "users", "bucket_count")
LISTING_INDEXES = {
    "ix_buckets_user_id_created_at_id": ["user_id", "created_at", "id"],
    "ix_buckets_user_id_name_id": ["user_id", "name", "id"],
}


def replace_counter(old: Counter, new: Counter) -> None:
    dialect = op.get_bind().dialect.name
    for statement in old.drop(dialect):
        op.execute(statement)
    for statement in new.create(dialect):
        op.execute(statement)
    op.execute(new.recount())


def upgrade():
    op.create_table(
        "bucket_members",
        sa.Column("bucket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
            name=op.f("fk_bucket_members_bucket_id_buckets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_bucket_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bucket_id", "user_id", name=op.f("pk_bucket_members")),
    )
    op.create_index(
        "ix_bucket_members_user_id_bucket_id",
        "bucket_members",
        ["user_id", "bucket_id"],
        unique=True,
    )
    op.create_index(
        "ix_bucket_members_user_id_created_at_bucket_id",
        "bucket_members",
        ["user_id", "created_at", "bucket_id"],
    )
    op.create_index(
        "ix_bucket_members_user_id_name_bucket_id",
        "bucket_members",
        ["user_id", "name", "bucket_id"],
    )
    op.create_index(
        "ix_bucket_members_user_id_role_bucket_id",
        "bucket_members",
        ["user_id", "role", "bucket_id"],
    )
    op.execute(
        "INSERT INTO bucket_members (bucket_id, user_id, role, added_at, name, created_at) "
        "SELECT id, user_id, 'owner', created_at, name, created_at FROM buckets"
    )
    replace_counter(OWNED, VISIBLE)
    for statement in MEMBERSHIP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    for name in LISTING_INDEXES:
        op.drop_index(name, table_name="buckets")


def downgrade():
    for name, columns in LISTING_INDEXES.items():
        op.create_index(name, "buckets", columns)
    dialect = op.get_bind().dialect.name
    for statement in MEMBERSHIP_DROPS[dialect]:
        op.execute(statement)
    for statement in VISIBLE.drop(dialect):
        op.execute(statement)
    op.drop_table("bucket_members")
    for statement in OWNED.create(dialect):
        op.execute(statement)
    op.execute(OWNED.recount())
