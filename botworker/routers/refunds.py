"""``refunded_payment`` service messages: a Stars payment was refunded outside the bot (by an operator in
Telegram, by Telegram itself). The credit is reversed exactly once, keyed by ``telegram_payment_charge_id``; a
second delivery of the same message finds the first reversal and changes nothing.
"""

import logging

from aiogram import F, Router
from aiogram.types import Message

from botworker.orm import db
from payments.exceptions import RefundNotReversed
from payments.services.refunds import stars_refund_record

logger = logging.getLogger(__name__)


router = Router(name="refunds")


@router.message(F.refunded_payment)
async def on_refunded_payment(message: Message) -> None:
    refund = message.refunded_payment
    try:
        reversal = await db(stars_refund_record,
                            telegram_payment_charge_id=refund.telegram_payment_charge_id, created_by="telegram")
    except RefundNotReversed as error:
        logger.warning("refunded_payment %s: %s", refund.telegram_payment_charge_id, error)
        return
    if reversal is not None:
        logger.info("refunded_payment %s: credit reversed by entry #%s", refund.telegram_payment_charge_id,
                    reversal.pk)
