"""deploy/grafana: the provisioned datasource and dashboards. Every SQL query of every
panel, template variable and annotation is expanded as Grafana would (its macros and our
variables) and checked with EXPLAIN against a real PostgreSQL holding the store's schema
(migrated by ``open_store``), so a renamed column or table fails here, not on a wall screen."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fluxfleet.store import open_store

from testsupport.services import Postgres

GRAFANA = Path(__file__).resolve().parents[4] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE_UID = "fluxfleet-postgres"
FROM, TO = "'2023-09-15T00:00:00Z'", "'2023-09-22T00:00:00Z'"
VARIABLES = {"device": "'ch000','ch001'", "variant": "'5.1','5.2'"}
"""A multi-value selection of each dashboard variable, as Grafana quotes it for SQL."""

SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _interval(text: str) -> int:
    m = re.fullmatch(r"'?(\d+)([smhd])'?", text.strip())
    assert m, f"interval {text!r}"
    return int(m.group(1)) * SECONDS[m.group(2)]


def expand(sql: str) -> str:
    """Grafana's PostgreSQL macros and our variables, expanded as Grafana does."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN {FROM} AND {TO}", sql)
    sql = re.sub(
        r"\$__timeGroupAlias\(([^,]+),([^)]+)\)",
        lambda m: (
            f'floor(extract(epoch from {m[1]})/{_interval(m[2])})*{_interval(m[2])} AS "time"'
        ),
        sql,
    )
    sql = re.sub(
        r"\$__timeGroup\(([^,]+),([^)]+)\)",
        lambda m: f"floor(extract(epoch from {m[1]})/{_interval(m[2])})*{_interval(m[2])}",
        sql,
    )
    sql = sql.replace("$__timeFrom()", FROM).replace("$__timeTo()", TO)
    for name, value in VARIABLES.items():
        sql = re.sub(rf"\$\{{{name}(:[a-z]+)?\}}|\${name}\b", value, sql)
    assert "$" not in sql, f"a macro or variable this test does not know: {sql}"
    return sql


def queries(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, SQL) of every rawSql/query string in a dashboard's JSON."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("rawSql", "query", "definition") and isinstance(v, str) and v.strip():
                yield f"{where}.{k}", v
            else:
                yield from queries(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from queries(v, f"{where}[{i}]")


def datasources(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for v in node.values():
            yield from datasources(v)
    elif isinstance(node, list):
        for v in node:
            yield from datasources(v)


@pytest.fixture(scope="module")
def store_dsn(postgres: Postgres) -> str:
    """A new database with the store's schema (every migration applied)."""
    name = f"g_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{name}"
    open_store(url).close()
    return url


def test_dashboards_have_fixed_unique_uids_and_our_datasource() -> None:
    assert len(DASHBOARDS) >= 3
    uids = []
    for path in DASHBOARDS:
        d = json.loads(path.read_text())
        assert re.fullmatch(r"fluxfleet-[a-z-]+", d["uid"]), path
        uids.append(d["uid"])
        assert d["panels"], path
        for ds in datasources(d):
            assert ds == {"type": "postgres", "uid": DATASOURCE_UID}, (path, ds)
    assert len(set(uids)) == len(uids)
    provisioned = (GRAFANA / "provisioning" / "datasources" / "fluxfleet.yaml").read_text()
    assert re.search(rf"^\s+uid: {DATASOURCE_UID}$", provisioned, re.M)
    assert re.search(r"^\s+type: postgres$", provisioned, re.M)
    provider = (GRAFANA / "provisioning" / "dashboards" / "fluxfleet.yaml").read_text()
    assert re.search(r"^\s+type: file$", provider, re.M)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_every_query_explains_on_the_store_schema(path: Path, store_dsn: str) -> None:
    found = list(queries(json.loads(path.read_text()), path.stem))
    assert found, f"{path} holds no query"
    with psycopg.connect(store_dsn, autocommit=True) as con:
        for where, sql in found:
            try:
                con.execute("EXPLAIN " + expand(sql))
            except psycopg.Error as exc:
                pytest.fail(f"{where}: {exc}\n{sql}")


def test_explain_catches_a_wrong_column(store_dsn: str) -> None:
    """The check can fail: a query naming a column the store lacks is refused."""
    with psycopg.connect(store_dsn, autocommit=True) as con, pytest.raises(psycopg.Error):
        con.execute("EXPLAIN " + expand("SELECT flux FROM fluxes WHERE $__timeFilter(start)"))
