"""The ledger's tables (SQLModel), one module per concern. `metadata` is what Alembic migrates."""
from sqlmodel import SQLModel

from .access import ApiKeyBuilder, ApiUsageTier, Subaccount, SubaccountTransfer
from .custody import CustodyWithdrawal, Deposit
from .ledger import LedgerAccount, LedgerBalance, LedgerEntry, PositionStats
from .markets import Builder, Event, FeeSchedule, Market, Series
from .orders import Fill, Order, OrderGroup, Trade
from .outbox import OutboxEvent, OutboxStream
from .rfq import Quote, Rfq
from .settlements import Settlement
from .users import ApiKey, User

metadata = SQLModel.metadata

__all__ = [
    "ApiKey", "ApiKeyBuilder", "ApiUsageTier", "Builder", "CustodyWithdrawal", "Deposit", "Event", "FeeSchedule", "Fill", "LedgerAccount", "LedgerBalance",
    "LedgerEntry", "Market", "Order", "OrderGroup", "OutboxEvent", "OutboxStream",
    "PositionStats", "Quote", "Rfq", "Series", "Settlement", "Subaccount", "SubaccountTransfer", "Trade", "User", "metadata",
]
