"""The FIX tags the gateway reads and writes (FIXT.1.1 session, FIX 5.0 SP2 application, and
Kalshi's CancelOrdersOnDisconnect)."""
BeginString, BodyLength, MsgType, SenderCompID, TargetCompID, MsgSeqNum, SendingTime, CheckSum = 8, 9, 35, 49, 56, 34, 52, 10
PossDupFlag, OrigSendingTime = 43, 122
BeginSeqNo, EndSeqNo, NewSeqNo, GapFillFlag = 7, 16, 36, 123
TestReqID, HeartBtInt, EncryptMethod, ResetSeqNumFlag, DefaultApplVerID = 112, 108, 98, 141, 1137
RawDataLength, RawData = 95, 96
Text, SessionStatus = 58, 1409
RefSeqNum, RefTagID, RefMsgType, SessionRejectReason = 45, 371, 372, 373
BusinessRejectRefID, BusinessRejectReason = 379, 380
CancelOrdersOnDisconnect = 8013  # Kalshi's Logon flag

# order entry
ClOrdID, OrigClOrdID, OrderID, ExecID, ExecType, OrdStatus = 11, 41, 37, 17, 150, 39
Symbol, Side, OrderQty, OrdType, Price, TimeInForce, ExpireTime, ExecInst = 55, 54, 38, 40, 44, 59, 126, 18
SecondaryClOrdID, SelfTradePreventionType = 526, 2964
LeavesQty, CumQty, AvgPx, LastPx, LastQty, TransactTime = 151, 14, 6, 31, 32, 60
OrdRejReason, TrdMatchID, AggressorIndicator, Commission, CommType = 103, 880, 1057, 12, 13
CxlRejResponseTo, CxlRejReason = 434, 102
MassCancelRequestType, MassCancelResponse, TotalAffectedOrders, MassCancelRejectReason = 530, 531, 533, 532
MassActionReportID = 1369
OrdStatusReqID = 790

# market data
MDReqID, SubscriptionRequestType, MarketDepth, NoRelatedSym, NoMDEntryTypes = 262, 263, 264, 146, 267
TradeID, AggressorSide = 1003, 2446
NoMDEntries, MDEntryType, MDEntryPx, MDEntrySize, MDUpdateAction, MDReqRejReason = 268, 269, 270, 271, 279, 281

STATUS_INVALID_CREDENTIALS = 5  # SessionStatus: invalid username or password
