"""The suite's own PostgreSQL server: started on loopback, a database per test."""

import psycopg


def test_each_test_gets_its_own_empty_database(pg_url, postgres_server):
    assert pg_url.startswith(f"postgresql://provisioner@127.0.0.1:{postgres_server.port}/")
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0
        conn.execute("CREATE TABLE t (x int)")
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
