"""Writes of the Telegram Stars purchase, by capability: ``purchase`` (pre-checkout, the successful payment),
``refunds`` (an operator's refund, a refund Telegram reports), ``reconcile`` (the ledger against Telegram's list),
and ``credit`` (crediting a payment and flagging one that does not match its invoice, used by the others).
"""
