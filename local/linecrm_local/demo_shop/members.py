"""The demo shop's members and products: public, local-only demo data."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

_SALT = b"linecrm-demo-shop"


def _hash(password: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), _SALT, 10_000)


@dataclass(frozen=True)
class Member:
    member_id: str
    email: str
    name: str
    password_hash: bytes

    def check(self, password: str) -> bool:
        return hmac.compare_digest(self.password_hash, _hash(password))


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: int  # yen, tax included


# Printed by `make dev` and documented in docs/liff.md (local demo credentials).
DEMO_MEMBERS = (
    ("M-1001", "hanako@example.com", "山田 花子", "hanako-demo"),
    ("M-1002", "taro@example.com", "佐藤 太郎", "taro-demo"),
)
MEMBERS = {
    email: Member(member_id, email, name, _hash(password))
    for member_id, email, name, password in DEMO_MEMBERS
}
MEMBERS_BY_ID = {member.member_id: member for member in MEMBERS.values()}

PRODUCTS = {
    product.sku: product
    for product in (
        Product("A1", "オーガニックコットンTシャツ", 3200),
        Product("B2", "ステンレスタンブラー", 2400),
        Product("C3", "ハンドクリーム（無香料）", 1100),
    )
}


def authenticate(email: str, password: str) -> Member | None:
    member = MEMBERS.get(email.strip().lower())
    return member if member is not None and member.check(password) else None
