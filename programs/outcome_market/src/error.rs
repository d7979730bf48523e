use anchor_lang::prelude::*;

/// Every refusal of the program has a name here (Anchor's own account/constraint errors
/// cover signer, owner, discriminator, seeds and program-id checks).
#[error_code]
pub enum OutcomeError {
    // --- exchange and authorities
    #[msg("The exchange is paused")]
    ExchangePaused,
    #[msg("The exchange is not paused")]
    ExchangeNotPaused,
    #[msg("No authority change is pending")]
    NoPendingAuthorities,
    #[msg("Signer is not the pending admin")]
    NotPendingAdmin,
    #[msg("An authority must not be the default public key")]
    InvalidAuthority,
    #[msg("Fee rate above 10000 basis points")]
    InvalidFeeRate,
    #[msg("force_close_slots must be between 1 and MAX_FORCE_CLOSE_SLOTS")]
    InvalidForceCloseSlots,
    #[msg("Dispute window must be between 0 and MAX_DISPUTE_WINDOW_SECS")]
    InvalidDisputeWindow,
    #[msg("Collateral mint must have 6 decimals")]
    InvalidCollateralDecimals,
    #[msg("Signer is not the exchange admin")]
    NotAdmin,
    #[msg("Signer is not the bridge authority")]
    NotBridgeAuthority,
    #[msg("Signer is not the resolver authority")]
    NotResolver,
    #[msg("Destination is not the exchange treasury")]
    NotTreasury,

    // --- markets
    #[msg("Ticker must be 1 to 32 bytes of A-Z, 0-9, '-', '_' or '.'")]
    InvalidTicker,
    #[msg("Close time must be in the future")]
    InvalidCloseTime,
    #[msg("Tick size must be a multiple of 100 that divides 1000000")]
    InvalidTickSize,
    #[msg("Market is not open")]
    MarketNotOpen,
    #[msg("Market is not halted")]
    MarketNotHalted,
    #[msg("Market close time has passed")]
    MarketPastCloseTime,
    #[msg("Market cannot be closed from its current status")]
    MarketNotClosable,
    #[msg("Only the admin may close a market before its close time")]
    CloseTimeNotReached,
    #[msg("Market is not closed or determined")]
    MarketNotDeterminable,
    #[msg("Market is not determined")]
    MarketNotDetermined,
    #[msg("Dispute window has not ended")]
    DisputeWindowOpen,
    #[msg("Market is not finalized")]
    MarketNotFinalized,
    #[msg("Market is finalized: redeem instead")]
    MarketFinalized,
    #[msg("yes_payout must be between 0 and 1000000")]
    InvalidPayout,
    #[msg("Account belongs to another market")]
    WrongMarket,

    // --- amounts and math
    #[msg("Amount must be positive")]
    ZeroAmount,
    #[msg("Arithmetic overflow")]
    MathOverflow,
    #[msg("Token account balance too low")]
    InsufficientBalance,
    #[msg("Same account passed twice where two different accounts are required")]
    DuplicateAccount,

    // --- wallet orders and fills
    #[msg("Price must be on the market tick, strictly between 0 and 1000000")]
    InvalidPrice,
    #[msg("Size must be a positive multiple of 10000 base units (0.01 contract)")]
    InvalidSize,
    #[msg("Fill price is worse than the order's limit")]
    PriceWorseThanLimit,
    #[msg("Fill exceeds the order's unfilled size")]
    FillExceedsSize,
    #[msg("Fee above the exchange's fee cap for this fill")]
    FeeAboveCap,
    #[msg("Fee above the order's remaining fee budget")]
    FeeAboveBudget,
    #[msg("Fee larger than the sale proceeds")]
    FeeExceedsProceeds,
    #[msg("Order escrow does not cover this fill")]
    EscrowInsufficient,
    #[msg("Cancel already requested")]
    CancelAlreadyRequested,
    #[msg("No cancel has been requested")]
    CancelNotRequested,
    #[msg("The force-close timeout has not passed")]
    ForceCloseTooEarly,
    #[msg("Token account does not belong to the signer or order owner")]
    NotTokenOwner,
    #[msg("Token account has the wrong mint")]
    WrongMint,
    #[msg("Escrow account is not the order's escrow")]
    WrongEscrow,

    // --- sequence numbers
    #[msg("Sequence numbers start at 1")]
    SequenceZero,
    #[msg("Sequence number already applied")]
    SequenceReplayed,
    #[msg("Sequence number older than the replay window")]
    SequenceTooOld,

    // --- added in v1.1 (appended so earlier error numbers stay the same)
    #[msg("Sequence number more than the replay window ahead of the highest applied one")]
    SequenceTooFarAhead,
    #[msg("The order at this address is not the order the instruction names (order_id)")]
    OrderIdMismatch,
    #[msg("Signer is not the program's upgrade authority")]
    NotUpgradeAuthority,
    #[msg("Sweep larger than the fees accrued in custody")]
    SweepExceedsFees,
    // --- added in v1.2 (UnboundedBridgeTransaction, the last error of v1.1, is gone: events are
    // inner instructions now, which no log limit can cut; its number went to the next error)
    #[msg("A batched instruction (settle_fills, custody_mint_sets, custody_merge_sets) needs at least one record")]
    EmptyBatch,
}
