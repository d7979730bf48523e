"""Address lookup tables of the bridge: one per market stream, created and extended on demand.

A table only grows (the bridge never deactivates or closes one), so a transaction signed
against it stays valid when it is resent later or after a restart. A full table (256
addresses) is replaced by a fresh one for new transactions; the old one keeps serving
what was signed against it.

Addresses extended in slot s are usable from slot s + 1, so after an extension the bridge
waits until the chain is past that slot before it signs against them.
"""
from __future__ import annotations

import asyncio

from solana.rpc.commitment import Confirmed, Finalized, Processed
from solders.pubkey import Pubkey

from bridge.txbuild import EXTEND_CHUNK, MAX_LOOKUP_ADDRESSES, _Table, create_lookup_table_ix, extend_lookup_table_ix, lookup_table_state


async def ensure_table(builder, stream: str, wanted: list[Pubkey], table: _Table | None) -> _Table:
    c = builder.c
    payer = builder.payer
    if table is None:
        saved = builder.store.lookup_table(stream)
        if saved is not None:
            address = Pubkey.from_string(saved[0])
            info = (await c.rpc.get_account_info(address, commitment=Confirmed)).value
            if info is not None:
                table = _Table(address, lookup_table_state(bytes(info.data)))
    missing = [a for a in dict.fromkeys(wanted) if table is None or a not in table.addresses]
    if not missing:
        return table
    if table is None or len(table.addresses) + len(missing) > MAX_LOOKUP_ADDRESSES:
        slot = (await c.rpc.get_slot(Finalized)).value
        ix, address = create_lookup_table_ix(payer.pubkey(), payer.pubkey(), slot)
        await c.send_and_confirm([ix], [payer], commitment=Confirmed, fetch_logs=False)
        table = _Table(address, [])
        builder.store.save_lookup_table(stream, str(address), [])
        missing = list(dict.fromkeys(wanted))[:MAX_LOOKUP_ADDRESSES]
    last_slot = 0
    for start in range(0, len(missing), EXTEND_CHUNK):
        chunk = missing[start:start + EXTEND_CHUNK]
        result = await c.send_and_confirm([extend_lookup_table_ix(table.address, payer.pubkey(), payer.pubkey(), chunk)], [payer],
                                          commitment=Confirmed, fetch_logs=False)
        last_slot = max(last_slot, result.slot or 0)
    info = (await c.rpc.get_account_info(table.address, commitment=Confirmed)).value
    table = _Table(table.address, lookup_table_state(bytes(info.data)))
    builder.store.save_lookup_table(stream, str(table.address), [str(a) for a in table.addresses])
    while (await c.rpc.get_slot(Processed)).value <= last_slot:  # usable from the next slot
        await asyncio.sleep(0.02)
    return table
