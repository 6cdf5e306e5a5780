"""Texts shared by several routers and the middlewares (Russian msgids, translatable, HTML).

Functions rather than constants: ``gettext`` must run when the text is sent, in the active language.
"""

from django.utils.translation import gettext as _


def apology() -> str:
    return _("😔 Что-то пошло не так. Мы уже разбираемся — попробуйте ещё раз чуть позже.")


def blocked_notice() -> str:
    return _("⛔ Ваш доступ к боту ограничен. Если это ошибка, напишите в поддержку.")


def unknown_callback() -> str:
    return _("❌ Неизвестная команда. Используйте кнопки меню.")


def unknown_message() -> str:
    return _("❓ Я не понимаю эту команду. Выберите действие в меню или отправьте /start.")


def main_menu_title() -> str:
    return _("🏠 <b>Главное меню</b>\n\nВыберите, что хотите сделать:")
