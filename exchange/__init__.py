"""The custodial exchange: the pure matching engine (no I/O) and the double-entry ledger.

Where things live (pure modules do no I/O and are tested alone):

| module | what it is |
| --- | --- |
| `engine/` | the matching engine, pure and deterministic |
| `units`, `fees`, `holds`, `positions` | pure arithmetic: wire units, Kalshi fees, cash holds, position P&L |
| `tickers` | the program's ticker rule (limit from the IDL), checked before anything is written |
| `outbox` | the typed outbox contract with the bridge: one frozen record per kind, JSON codec, streams, groups (pure) |
| `service/` | `ExchangeService`, the one entry point, split by concern behind that one facade: order commands (`orders`, `fills`, `order_groups`), `cash`, market `lifecycle`, `reference` data, `fill_reversal`, reader-only `queries`; what they share: `book_state` (memory and its restore), `holdings`, `unit_of_work` (every write's one transaction), `outbox_writer`, `events` (its package docstring has the map) |
| `outbox_reader` | what the bridge reads (pending whole groups) and reports (applied, finalized, reverted) |
| `wallet_orders` | wallet orders seen on chain: escrow into their own ledger account + a CLOB order |
| `ledger_queries` | the ledger as the indexer reads it |
| `journal` | double-entry postings of one command, with Kalshi netting |
| `statements` | the order path's prepared SQL; `paging` the listings' pages; `views` rows -> views |
| `mirror` | the PostgreSQL writer's write-through mirror of balances and resting orders (with `db`'s deferred writes: a command is one round trip) |
| `models/`, `migrations/`, `db` | the ledger's tables (SQLModel, incl. custody deposits/withdrawals), their Alembic history, engines (handed a URL) |
| `schemas`, `errors` | what the service takes and returns, and its named refusals |

Operator actions behind the CLI live on the CLI side (tandem/admin.py); nothing here reads
settings or the environment.
"""
