"""The exchange service: `ExchangeService` (exchange/service/facade.py) is the one entry point
of the API, the CLI and the workers; it is the sum of the domain parts below, which share the
parts built in its constructor (exchange/service/parts.py).

| module | what it is |
| --- | --- |
| `facade` | `ExchangeService`: builds the shared parts; subscribe, run_group, close |
| `orders` | order commands: place (validate → reserve → match → post → record), batch place, cancel, decrease, amend, expire |
| `fills` | what a command's fills post (ledger movements, fees, builder shares, trades, fills, wallet settle_fills) and the command's one flush |
| `order_groups` | order groups: create, limit, trigger, reset, delete; the rolling-window limit applied to each command's fills |
| `cash` | cash and custody: fund, debit, withdrawals to wallets, deposit references, crediting deposits |
| `lifecycle` | market lifecycle: create, halt, resume, close, determine, finalize (settlement) |
| `reference` | reference data: users, API keys, fee schedules, builders, series, events |
| `fill_reversal` | a settle_fill the chain refused for good, reversed in the ledger |
| `queries` | reader-only queries: markets, series, events, order books, trades, orders, fills, positions, settlements, balances, withdrawals, order groups |
| `kalshi_reads` | candlesticks, cash and custody history, historical orders, one market position, API-key builders and API tiers (thin calls into their modules) |
| `subaccounts` | Kalshi's subaccounts 1-63 (each its own custodial user row under its parent), cash transfers between them |
| `rfq` | Kalshi's RFQs and quotes (communications): create, quote, accept, confirm; a confirmed quote posts as one fill through the order path |
| `book_state` | memory: `MarketState`, `OpenOrder`, holds and positions; `restore` / `load_market` rebuild it from the database; each book's seq |
| `holdings` | the ledger balances the write paths read (cash, positions) |
| `unit_of_work` | the writer lock, THE transaction of every write, group commit |
| `outbox_writer` | typed outbox records with their streams' gapless seqs, one group per journal |
| `events` | subscribers, told after each commit |
| `clock`, `common` | the service's clock (tests move it); statuses and ids |
"""
from exchange.service.facade import ExchangeService

__all__ = ["ExchangeService"]
