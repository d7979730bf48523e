"""The service's view of one market's order book: the matching engine's `Book` (exchange/engine)
under the name the service was written against."""
from exchange.engine import Book as BookAdapter
from exchange.engine import EngineFill, EngineResult

__all__ = ["BookAdapter", "EngineFill", "EngineResult"]
