"""FIX gateway (FIXT.1.1 / FIX 5.0 SP2, Kalshi's sessions) served by the `tandem api` process."""
