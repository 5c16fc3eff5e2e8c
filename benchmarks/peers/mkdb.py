import sqlite3
import sys

db = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
c = sqlite3.connect(db)
c.execute("pragma journal_mode=wal")
for t in ("appointment", "sale", "document", "todo"):
    c.execute(f"drop table if exists {t}")
    c.execute(
        f"create table {t} (id integer primary key, status text, updated_count integer not null default 0)"
    )
    c.executemany(f"insert into {t} (id, status) values (?, 'NotStarted')", [(i,) for i in range(1, n + 1)])
c.commit()
