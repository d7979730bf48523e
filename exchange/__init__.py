"""The custodial exchange: the pure matching engine (no I/O) and the double-entry ledger.

Where things live (pure modules do no I/O and are tested alone):

| module | what it is |
| --- | --- |
| `engine/` | the matching engine, pure and deterministic (`engine_adapter` names it for the service) |
| `units`, `fees`, `holds`, `positions` | pure arithmetic: wire units, Kalshi fees, cash holds, position P&L |
| `service` | `ExchangeService`, the one entry point: commands under the writer lock, one transaction each |
| `journal` | double-entry postings of one command, with Kalshi netting |
| `statements` | the order path's prepared SQL; `paging` the listings' pages; `views` rows -> views |
| `models/`, `migrations/`, `db` | the ledger's tables (SQLModel), their Alembic history, engines and settings |
| `schemas`, `errors` | what the service takes and returns, and its named refusals |
| `admin` | operator actions behind the CLI |
"""
